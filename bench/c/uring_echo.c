// uring_echo: a minimal C echo server on io_uring, the reference the io_uring issue compares eddy with
// ("a minimal C io_uring echo server: multishot accept, recv then send per connection"). One thread, one
// ring (SINGLE_ISSUER + DEFER_TASKRUN), a multishot accept, a multishot recv per connection into a
// provided-buffer ring, and a send straight from the buffer the kernel filled, which goes back to the
// ring when the send completes. TCP_NODELAY on as eddy sets it. A full buffer ring (ENOBUFS) ends the
// multishot receive, which is armed again; a short or failed send is not retried, and what it did not
// send is lost (the load generator, which checks every echo, counts it as an error): the echo benchmark
// (one small message in flight per connection) provokes neither. For measurement only.
//
// With -DFIXED the ring's fd is registered and every accepted socket goes into the ring's fixed-file table
// (slot = fd), so that recv and send use IOSQE_FIXED_FILE and skip the per-operation file lookup.
//
//	apt-get install liburing-dev
//	gcc -O2 -o /tmp/uring_echo bench/c/uring_echo.c -luring && /tmp/uring_echo 127.0.0.1 9000
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define NBUF 4096 // provided buffers (a power of two)
#ifndef BUFSZ
#define BUFSZ 2048 // bytes each; -DBUFSZ=8192 for messages above 2 KiB, which 2 KiB buffers split in two
#endif
#define BGID 0

enum { ACCEPT = 1, RECV = 2, SEND = 3 };
// user_data: kind in the top byte, buffer id in the next 16 bits, fd in the low 32.
static __u64 ud(int kind, int bid, int fd) { return (__u64)kind << 56 | (__u64)bid << 32 | (__u32)fd; }

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;

static struct io_uring_sqe *sqe(void) {
	struct io_uring_sqe *s = io_uring_get_sqe(&ring);
	if (!s) {
		io_uring_submit(&ring);
		s = io_uring_get_sqe(&ring);
	}
	return s;
}

#ifdef FIXED
#define FILEFLAG IOSQE_FIXED_FILE
#else
#define FILEFLAG 0
#endif

static void arm_recv(int fd) {
	struct io_uring_sqe *s = sqe();
	io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
	s->flags |= IOSQE_BUFFER_SELECT | FILEFLAG;
	s->buf_group = BGID;
	io_uring_sqe_set_data64(s, ud(RECV, 0, fd));
}

static void give_back(int bid) {
	io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, bid, io_uring_buf_ring_mask(NBUF), 0);
	io_uring_buf_ring_advance(br, 1);
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int ln = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(ln, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	if (bind(ln, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ln, 4096) < 0) {
		perror("listen");
		return 1;
	}
	struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
					     IORING_SETUP_CQSIZE,
				    .cq_entries = 65536};
	int err = io_uring_queue_init_params(4096, &ring, &p);
	if (err < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-err));
		return 1;
	}
#ifdef FIXED
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl); // the table may not be larger, and no fd can be above it
	if ((err = io_uring_register_ring_fd(&ring)) < 0 ||
	    (err = io_uring_register_files_sparse(&ring, rl.rlim_cur)) < 0) {
		fprintf(stderr, "io_uring_register: %s\n", strerror(-err));
		return 1;
	}
#endif
	size_t brsz = NBUF * sizeof(struct io_uring_buf);
	br = mmap(NULL, brsz, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	bufs = malloc((size_t)NBUF * BUFSZ);
	io_uring_buf_ring_init(br);
	struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = NBUF, .bgid = BGID};
	if ((err = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) {
		fprintf(stderr, "io_uring_register_buf_ring: %s\n", strerror(-err));
		return 1;
	}
	for (int i = 0; i < NBUF; i++)
		io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSZ, BUFSZ, i, io_uring_buf_ring_mask(NBUF), i);
	io_uring_buf_ring_advance(br, NBUF);
	fprintf(stderr, "uring_echo: listening on %s:%s\n", argv[1], argv[2]);

	struct io_uring_sqe *s = sqe();
	io_uring_prep_multishot_accept(s, ln, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(s, ud(ACCEPT, 0, ln));
	for (;;) {
		io_uring_submit_and_wait(&ring, 1);
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			n++;
			__u64 d = cqe->user_data;
			int kind = d >> 56, bid = (d >> 32) & 0xffff, fd = (int)(__u32)d, res = cqe->res;
			switch (kind) {
			case ACCEPT:
				if (res >= 0) {
					setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef FIXED
					io_uring_register_files_update(&ring, res, &res, 1);
#endif
					arm_recv(res);
				}
				if (!(cqe->flags & IORING_CQE_F_MORE)) {
					s = sqe();
					io_uring_prep_multishot_accept(s, ln, NULL, NULL, SOCK_CLOEXEC);
					io_uring_sqe_set_data64(s, ud(ACCEPT, 0, ln));
				}
				break;
			case RECV:
				if (res > 0) {
					int b = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
					s = sqe();
					io_uring_prep_send(s, fd, bufs + (size_t)b * BUFSZ, res, MSG_NOSIGNAL);
					s->flags |= FILEFLAG;
					io_uring_sqe_set_data64(s, ud(SEND, b, fd));
					if (!(cqe->flags & IORING_CQE_F_MORE))
						arm_recv(fd);
				} else if (res == -ENOBUFS) {
					arm_recv(fd);
				} else if (!(cqe->flags & IORING_CQE_F_MORE)) {
#ifdef FIXED
					int none = -1;
					io_uring_register_files_update(&ring, fd, &none, 1);
#endif
					close(fd); // EOF or error
				}
				break;
			case SEND:
				give_back(bid);
				break;
			}
		}
		io_uring_cq_advance(&ring, n);
	}
}
