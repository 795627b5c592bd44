/* getppid_loop N: make the getppid system call N times and print how long
 * the loop took, in nanoseconds, on stdout: "WALL_NS CPU_NS" (CLOCK_MONOTONIC
 * and this thread's CPU time, CLOCK_THREAD_CPUTIME_ID).
 *
 * The workload of bench/bench.py: one syscall per iteration and nothing
 * else, so that (time traced - time untraced) / N is what a tracer attached
 * to tracepoint:syscalls:sys_enter_getppid adds per event. A BPF program
 * runs in the context of the task that hit the tracepoint, so its cost is
 * in that task's CPU time, which other load on the machine does not
 * inflate the way it does wall time. syscall(2) is used because some C
 * libraries cache getppid().
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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
		syscall(SYS_getppid);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
	clock_gettime(CLOCK_MONOTONIC, &wb);
	printf("%lld %lld\n", ns(&wa, &wb), ns(&ca, &cb));
	return 0;
}
