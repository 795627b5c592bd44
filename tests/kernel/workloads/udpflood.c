/* udpflood ADDR PORT: send 18-byte UDP datagrams to ADDR:PORT as fast as
 * sendmmsg allows (64 per call), until killed. The flood the xdp signal
 * test needs: more packets a second than pytrace can print. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 64

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: udpflood ADDR PORT\n");
		return 2;
	}
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
		fprintf(stderr, "udpflood: bad address %s\n", argv[1]);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		perror("udpflood");
		return 1;
	}
	static char payload[18] = "pytrace-udp-flood";
	struct iovec iov = { .iov_base = payload, .iov_len = sizeof(payload) };
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	for (;;)
		sendmmsg(fd, msgs, BATCH, 0);   /* ECONNREFUSED/ENOBUFS: go on */
}
