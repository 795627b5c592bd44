/* uprobe_loop N: call target_fn() N times and print how long the loop took,
 * in nanoseconds: "WALL_NS CPU_NS" (CLOCK_MONOTONIC and this thread's CPU
 * time). The workload of bench/uprobe_bench.py: a uprobe (or uretprobe) on
 * target_fn adds a breakpoint trap and a BPF program run to every call, all
 * in this thread's CPU time, so (traced - untraced) / N is the added cost
 * per hit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

volatile long sink;

__attribute__((noinline)) long target_fn(long x)
{
	sink += x;
	return x + 1;
}

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
		target_fn(i);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
	clock_gettime(CLOCK_MONOTONIC, &wb);
	printf("%lld %lld\n", ns(&wa, &wb), ns(&ca, &cb));
	return 0;
}
