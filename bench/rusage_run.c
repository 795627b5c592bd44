/* rusage_run OUTFILE COMMAND [ARG...]: run COMMAND (stdio inherited), wait
 * for it with wait4(2) and write "WALL_NS MAXRSS_KIB EXIT_STATUS\n" to
 * OUTFILE.
 *
 * Why bench/bench.py does not fork the command itself: a child's ru_maxrss
 * is the high-water mark of every address space it had, including the one
 * it was forked from before exec (the kernel records the old mm's peak at
 * exec). Forked from the bench's Python process, every command would show
 * at least the bench's own ~18 MiB. Forked from this small program, the
 * floor is well under a megabyte.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;

/* SIGINT/SIGTERM sent to us go to the command, which then ends as it would. */
static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = forward };
	struct rusage ru;
	long long start;
	int status;
	pid_t pid;
	FILE *out;

	if (argc < 3) {
		fprintf(stderr, "usage: rusage_run OUTFILE COMMAND [ARG...]\n");
		return 125;
	}
	sigaction(SIGINT, &sa, NULL);   /* reset to default by exec in the child */
	sigaction(SIGTERM, &sa, NULL);
	start = now_ns();
	pid = fork();
	if (pid < 0) {
		perror("rusage_run: fork");
		return 125;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror("rusage_run: exec");
		_exit(127);
	}
	child = pid;
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("rusage_run: wait4");
			return 125;
		}
	}
	out = fopen(argv[1], "w");
	if (!out) {
		perror("rusage_run: OUTFILE");
		return 125;
	}
	fprintf(out, "%lld %ld %d\n", now_ns() - start, ru.ru_maxrss,
		WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	fclose(out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
