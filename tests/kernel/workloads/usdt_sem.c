/* The semaphore-guarded probe of usdt_prog.c: compiled apart because
 * _SDT_HAS_SEMAPHORES gives every probe of a file a semaphore. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

struct point { long x; int y; };
extern long global_counter;
unsigned short test_hello_semaphore __attribute__((section(".probes")));

__attribute__((noinline)) void fire_hello(int i, struct point *p)
{
    if (test_hello_semaphore)
        DTRACE_PROBE3(test, hello, i, p->x, global_counter);
}
