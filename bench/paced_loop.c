/* paced_loop RATE SECONDS: make RATE getpid() system calls a second for
 * SECONDS seconds (RATE 0: as fast as it can, SECONDS read as a count of
 * calls then), then print "CALLS WALL_NS CPU_NS" on stdout (CPU_NS: its own
 * user and system time, which a tracer's -c child rusage includes).
 *
 * bench/stream_bench.py traces sys_enter_getpid with one printf per call
 * and compares the lines a tracer delivered with CALLS; WALL_NS against
 * SECONDS is how much the tracer slowed the paced loop down. Pacing: the
 * loop checks CLOCK_MONOTONIC every 16 calls and spins while it is ahead
 * of schedule, so a burst never exceeds 16 calls. syscall(2), because some
 * C libraries cache getpid().
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	double rate = argc > 1 ? atof(argv[1]) : 0;
	double seconds = argc > 2 ? atof(argv[2]) : 1;
	long long start = now_ns(), calls = 0;

	if (rate <= 0) {
		long long n = (long long)seconds;

		for (calls = 0; calls < n; calls++)
			syscall(SYS_getpid);
	} else {
		long long total = (long long)(rate * seconds);
		double step = 1e9 / rate;

		while (calls < total) {
			for (int i = 0; i < 16 && calls < total; i++, calls++)
				syscall(SYS_getpid);
			while (now_ns() - start < (long long)(calls * step))
				;
		}
	}
	long long wall = now_ns() - start;
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("%lld %lld %lld\n", calls, wall,
	       (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL);
	return 0;
}
