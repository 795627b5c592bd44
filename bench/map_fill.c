/* map_fill N: call getpgid(i) (i%5)+1 times for each i in [0, N), so a
 * tracer counting by args.pid gets N keys with counts 1..5 (bench/maps_bench.py).
 * When the loop ends, prints CLOCK_REALTIME in nanoseconds on stderr: the
 * bench times the tracer's printing of the map from there to its exit. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	for (long i = 0; i < n; i++)
		for (long j = 0; j <= i % 5; j++)
			syscall(SYS_getpgid, (pid_t)i);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	return 0;
}
