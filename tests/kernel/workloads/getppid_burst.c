/* getppid_burst N: N getppid() system calls as fast as C makes them (no
 * pacing, ~0.3 µs each): a burst no reader keeps up with, for the tests
 * whose small buffers must overflow. syscall(2): libc may cache. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1;

	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return 0;
}
