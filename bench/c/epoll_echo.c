// epoll_echo: a minimal C echo server on epoll, the reference the engine issue compares eddy with
// ("a minimal C epoll server"). One thread, one epoll instance, edge-triggered sockets, a read until
// EAGAIN and a write of what was read (the echo is small, so the write never blocks here), TCP_NODELAY
// on as eddy sets it. No buffering of output: a peer that does not read loses data, which the echo
// benchmark (one message in flight per connection) never provokes. For measurement only.
//
//	gcc -O2 -o /tmp/epoll_echo bench/c/epoll_echo.c && /tmp/epoll_echo 127.0.0.1 9000
//
// With -DSENDRECV it uses recv/send (MSG_NOSIGNAL) instead of read/write, as eddy's epoll loop does: the
// socket calls skip the VFS layer (see docs/engine.md), so that build isolates what eddy's own code costs.
// With -DTHREAD (link with -pthread) it starts a second thread that only sleeps, as every Go process has
// several: the descriptor table is then shared, and each read, write, recv or send takes and drops a
// reference on its file (fdget's slow path) instead of borrowing it (docs/benchmarks.md, session 26).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#ifdef THREAD
#include <pthread.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef THREAD
static void *sleeper(void *arg) {
	(void)arg;
	for (;;)
		pause();
	return NULL;
}
#endif

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
		return 2;
	}
#ifdef THREAD
	pthread_t t;
	if (pthread_create(&t, NULL, sleeper, NULL) != 0) {
		fprintf(stderr, "epoll_echo: pthread_create failed\n");
		return 1;
	}
#endif
	signal(SIGPIPE, SIG_IGN);
	int ln = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(ln, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	if (bind(ln, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ln, 4096) < 0) {
		perror("listen");
		return 1;
	}
	socklen_t sl = sizeof sa;
	getsockname(ln, (struct sockaddr *)&sa, &sl);
	fprintf(stderr, "epoll_echo: listening on %s:%d\n", argv[1], ntohs(sa.sin_port));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = ln};
	epoll_ctl(ep, EPOLL_CTL_ADD, ln, &ev);
	static struct epoll_event evs[512];
	static char buf[65536];
	for (;;) {
		int n = epoll_wait(ep, evs, 512, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == ln) {
				int c;
				while ((c = accept4(ln, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				}
				continue;
			}
			for (;;) {
#ifdef SENDRECV
				ssize_t r = recv(fd, buf, sizeof buf, 0);
#else
				ssize_t r = read(fd, buf, sizeof buf);
#endif
				if (r > 0) {
#ifdef SENDRECV
					ssize_t w = send(fd, buf, r, MSG_NOSIGNAL);
#else
					ssize_t w = write(fd, buf, r);
#endif
					if (w < 0 && errno != EAGAIN) {
						close(fd);
						break;
					}
					if (r < (ssize_t)sizeof buf && !(evs[i].events & EPOLLRDHUP))
						break; // a short read drains a stream socket
					continue;
				}
				if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
					if (errno == EINTR)
						continue;
					break;
				}
				close(fd); // EOF or error
				break;
			}
		}
	}
}
