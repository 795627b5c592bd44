/* A known call tree for profile/ustack tests: main -> outer_fn -> middle_fn
 * -> inner_spin, which burns CPU for argv[1] milliseconds (default 500).
 * Built with -fno-omit-frame-pointer so frame-pointer unwinding works. */
#include <stdlib.h>
#include <time.h>

volatile unsigned long sink;

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

__attribute__((noinline)) void inner_spin(long ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 200000; i++)
            sink += i;
    } while (elapsed_ms(&t0) < ms);
}

__attribute__((noinline)) void middle_fn(long ms) { inner_spin(ms); sink++; }
__attribute__((noinline)) void outer_fn(long ms) { middle_fn(ms); sink++; }

int main(int argc, char **argv)
{
    outer_fn(argc > 1 ? atol(argv[1]) : 500);
    return 0;
}
