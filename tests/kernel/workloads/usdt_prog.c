/* USDT probes (sys/sdt.h) for the usdt tests. For i = 1..argv[1]:
 *   test:plain(i, -i, -7 * i, "hello usdt")      registers
 *   test:hello(i, 100 + i, global_counter)       semaphore-guarded (usdt_sem.c)
 *   test:consts(42, -5)                          constants
 *   test:mem(-3, (char)i, (short)-i)             memory and narrow registers
 * At exit it prints its semaphore: non-zero while a tracer holds the probe. */
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>

struct point { long x; int y; };
long global_counter = 1000;
extern unsigned short test_hello_semaphore;
void fire_hello(int i, struct point *p);
volatile char msg_first;

__attribute__((noinline)) static void fire(int i, struct point *p, const char *msg)
{
    long local = -7 * i;
    global_counter += i;
    DTRACE_PROBE4(test, plain, i, (long)-i, local, msg);
    fire_hello(i, p);
    DTRACE_PROBE2(test, consts, 42, -5);
    DTRACE_PROBE3(test, mem, p->y, (char)i, (short)-i);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 5;
    static const char msg[] = "hello usdt";
    struct point pt = { 77, -3 };
    msg_first = *(volatile const char *)msg;   /* fault its page in for str(arg3) */
    for (int i = 1; i <= n; i++) {
        pt.x = 100 + i;
        fire(i, &pt, msg);
    }
    printf("semaphore at exit: %u\n", test_hello_semaphore);
    return 0;
}
