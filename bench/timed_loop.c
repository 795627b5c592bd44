/* timed_loop N: do one operation N times and print how long the loop took,
 * in nanoseconds, on stdout: "WALL_NS CPU_NS" (CLOCK_MONOTONIC and this
 * thread's CPU time, CLOCK_THREAD_CPUTIME_ID).
 *
 * A BPF program runs in the context of the task that hit its probe, so its
 * cost is in that task's CPU time, which other load on the machine does not
 * inflate the way it does wall time: (traced - untraced) / N is what a
 * tracer adds per event. Built two ways:
 *   default           the getppid system call (bench/bench.py: a tracepoint
 *                     on sys_enter_getppid; syscall(2) because some C
 *                     libraries cache getppid())
 *   -DCALL_TARGET_FN  a call of target_fn() (bench/uprobe_bench.py: a uprobe
 *                     or uretprobe on it adds a breakpoint trap and a run)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef CALL_TARGET_FN
volatile long sink;

__attribute__((noinline)) long target_fn(long x)
{
	sink += x;
	return x + 1;
}
#define OPERATION(i) target_fn(i)
#else
#define OPERATION(i) syscall(SYS_getppid)
#endif

static long long ns(const struct timespec *a, const struct timespec *b)
{
	return (long long)(b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1;
	struct timespec wa, wb, ca, cb;

	clock_gettime(CLOCK_MONOTONIC, &wa);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
	for (long i = 0; i < n; i++)
		OPERATION(i);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
	clock_gettime(CLOCK_MONOTONIC, &wb);
	printf("%lld %lld\n", ns(&wa, &wb), ns(&ca, &cb));
	return 0;
}
