/* Functions with known arguments and return values for uprobe/uretprobe
 * tests: main calls answer(i % 3) and negative(i % 2) for i < argv[1]. */
#include <stdlib.h>

long counter = 42;

__attribute__((noinline)) int answer(int x) { return x * 6 - 5; }
__attribute__((noinline)) long negative(long x) { return -x + counter - 42; }

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;
    long s = 0;
    for (int i = 0; i < n; i++)
        s += answer(i % 3) + negative(i % 2);
    return s == 12345;
}
