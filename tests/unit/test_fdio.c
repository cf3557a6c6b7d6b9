/* SPDX-License-Identifier: MIT */
/* test_fdio.c: datagrams and SCM_RIGHTS fds over a SOCK_SEQPACKET socketpair. */
#define _GNU_SOURCE /* memfd_create, pipe2 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdio.h"

static int sv[2] = { -1, -1 };

static void open_pair(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void close_pair(void)
{
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	sv[0] = sv[1] = -1;
}

TestSuite(fdio, .init = open_pair, .fini = close_pair);

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static int make_memfd(const char *contents)
{
	int fd = memfd_create("fdio-test", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, contents, strlen(contents)), (ssize_t)strlen(contents));
	return fd;
}

/* Send raw fds the way a hostile peer would: several in one SCM_RIGHTS message. */
static void send_raw_fds(int sock, const int *fds, size_t nfds)
{
	char data = 'x';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	size_t space = CMSG_SPACE(sizeof(int) * nfds);
	char *control = calloc(1, space);
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = space };
	struct cmsghdr *c;

	cr_assert_not_null(control);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	cr_assert_eq(sendmsg(sock, &msg, 0), 1);
	free(control);
}

Test(fdio, message_with_an_fd_arrives_with_a_working_fd)
{
	int memfd = make_memfd("hello"), got = -2;
	uint8_t buf[64];
	char back[16] = { 0 };

	cr_assert_eq(fdio_send(sv[0], (const uint8_t *)"msg", 3, memfd), 0);
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), 3);
	cr_assert_eq(memcmp(buf, "msg", 3), 0);
	cr_assert_geq(got, 0);
	cr_assert_neq(got, memfd);
	cr_assert(fcntl(got, F_GETFD) & FD_CLOEXEC, "received fds must be close-on-exec");

	/* Same file: what one side writes the other reads. */
	cr_assert_eq(pread(got, back, sizeof(back), 0), 5);
	cr_assert_str_eq(back, "hello");
	cr_assert_eq(pwrite(got, "HELLO", 5, 0), 5);
	memset(back, 0, sizeof(back));
	cr_assert_eq(pread(memfd, back, sizeof(back), 0), 5);
	cr_assert_str_eq(back, "HELLO");
	close(got);
	close(memfd);
}

Test(fdio, read_only_fd_stays_read_only)
{
	int memfd = make_memfd("data"), ro, got = -2;
	char path[64];
	uint8_t buf[8];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(ro, 0);
	cr_assert_eq(fdio_send(sv[0], (const uint8_t *)"r", 1, ro), 0);
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), 1);
	cr_assert_eq(fcntl(got, F_GETFL) & O_ACCMODE, O_RDONLY);
	cr_assert_eq(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, got, 0), MAP_FAILED);
	close(got);
	close(ro);
	close(memfd);
}

Test(fdio, message_without_an_fd_gives_minus_one)
{
	uint8_t buf[64];
	int got = -2;

	cr_assert_eq(fdio_send(sv[0], (const uint8_t *)"plain", 5, -1), 0);
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), 5);
	cr_assert_eq(got, -1);
	cr_assert_eq(memcmp(buf, "plain", 5), 0);
}

Test(fdio, datagrams_keep_their_boundaries)
{
	uint8_t buf[64];
	int got;

	cr_assert_eq(fdio_send(sv[0], (const uint8_t *)"one", 3, -1), 0);
	cr_assert_eq(fdio_send(sv[0], (const uint8_t *)"three", 5, -1), 0);
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), 3);
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), 5);
	cr_assert_eq(memcmp(buf, "three", 5), 0);
}

Test(fdio, too_small_buffer_is_emsgsize_and_consumes_the_datagram)
{
	uint8_t big[100], buf[10];
	int got = -2;

	memset(big, 'b', sizeof(big));
	cr_assert_eq(fdio_send(sv[0], big, sizeof(big), -1), 0);
	cr_assert_eq(fdio_send(sv[0], (const uint8_t *)"next", 4, -1), 0);
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), -EMSGSIZE);
	cr_assert_eq(got, -1);
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), 4);
	cr_assert_eq(memcmp(buf, "next", 4), 0);
}

Test(fdio, too_small_buffer_closes_the_attached_fd)
{
	int memfd = make_memfd("x"), got = -2, before;
	uint8_t big[100], buf[10];

	memset(big, 'b', sizeof(big));
	cr_assert_eq(fdio_send(sv[0], big, sizeof(big), memfd), 0);
	before = count_open_fds();
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), -EMSGSIZE);
	cr_assert_eq(got, -1);
	cr_assert_eq(count_open_fds(), before);
	close(memfd);
}

Test(fdio, two_fds_are_rejected_and_both_closed)
{
	int fds[2], got = -2, before;
	uint8_t buf[16];

	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	send_raw_fds(sv[0], fds, 2);
	before = count_open_fds();
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), -EBADMSG);
	cr_assert_eq(got, -1);
	cr_assert_eq(count_open_fds(), before);
	close(fds[0]);
	close(fds[1]);
}

Test(fdio, more_fds_than_the_control_buffer_holds_are_rejected_and_closed)
{
	int fds[40], got = -2, before;
	uint8_t buf[16];

	for (int i = 0; i < 40; i += 2)
		cr_assert_eq(pipe2(fds + i, O_CLOEXEC), 0);
	send_raw_fds(sv[0], fds, 40);
	before = count_open_fds();
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), -EBADMSG);
	cr_assert_eq(got, -1);
	cr_assert_eq(count_open_fds(), before);
	for (int i = 0; i < 40; i++)
		close(fds[i]);
}

Test(fdio, control_message_other_than_scm_rights_is_rejected)
{
	int on = 1, got = -2, memfd = make_memfd("x"), before;
	uint8_t buf[16];

	/* With SO_PASSCRED every datagram arrives with SCM_CREDENTIALS. */
	cr_assert_eq(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
	cr_assert_eq(fdio_send(sv[0], (const uint8_t *)"c", 1, memfd), 0);
	before = count_open_fds();
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), -EBADMSG);
	cr_assert_eq(got, -1);
	cr_assert_eq(count_open_fds(), before);
	close(memfd);
}

Test(fdio, empty_datagram_carrying_an_fd_is_not_a_shutdown)
{
	int memfd = make_memfd("x"), got = -2, before;
	uint8_t buf[16];

	cr_assert_eq(fdio_send(sv[0], buf, 0, memfd), 0);
	before = count_open_fds();
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), -EBADMSG);
	cr_assert_eq(got, -1);
	cr_assert_eq(count_open_fds(), before);
	close(memfd);
}

Test(fdio, peer_close_reads_as_zero)
{
	uint8_t buf[16];
	int got = -2;

	close(sv[0]);
	sv[0] = -1;
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), 0);
	cr_assert_eq(got, -1);
}

Test(fdio, empty_non_blocking_socket_is_eagain)
{
	uint8_t buf[16];
	int got = -2;

	cr_assert_eq(fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK), 0);
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), -EAGAIN);
	cr_assert_eq(got, -1);
}

Test(fdio, full_non_blocking_socket_is_eagain_on_send)
{
	static uint8_t chunk[4096];
	int r = 0;

	cr_assert_eq(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK), 0);
	for (int i = 0; i < 100000 && r == 0; i++)
		r = fdio_send(sv[0], chunk, sizeof(chunk), -1);
	cr_assert_eq(r, -EAGAIN);
}

Test(fdio, send_to_a_closed_peer_is_epipe_without_sigpipe)
{
	sigset_t pipe_only, pending;

	close(sv[1]);
	sv[1] = -1;
	/* The runner's worker may ignore or block SIGPIPE, so don't rely on dying:
	 * block it, and a SIGPIPE raised by the send stays pending where we can see it. */
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	cr_assert_eq(sigprocmask(SIG_BLOCK, &pipe_only, NULL), 0);
	cr_assert_eq(fdio_send(sv[0], (const uint8_t *)"x", 1, -1), -EPIPE);
	cr_assert_eq(sigpending(&pending), 0);
	cr_assert_not(sigismember(&pending, SIGPIPE), "fdio_send raised SIGPIPE");
}

Test(fdio, send_never_raises_sigpipe_even_where_the_kernel_would)
{
	sigset_t pipe_only, pending;
	int st[2];

	/* Linux raises SIGPIPE for a dead stream peer but not for a SOCK_SEQPACKET
	 * one, so only a stream socket shows that MSG_NOSIGNAL is really passed. */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st), 0);
	close(st[1]);
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	cr_assert_eq(sigprocmask(SIG_BLOCK, &pipe_only, NULL), 0);
	cr_assert_eq(fdio_send(st[0], (const uint8_t *)"x", 1, -1), -EPIPE);
	cr_assert_eq(sigpending(&pending), 0);
	cr_assert_not(sigismember(&pending, SIGPIPE), "fdio_send raised SIGPIPE");
	close(st[0]);
}

Test(fdio, send_with_a_bad_fd_fails_and_sends_nothing)
{
	uint8_t buf[16];
	int got = -2;

	cr_assert_eq(fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK), 0);
	cr_assert_eq(fdio_send(sv[0], (const uint8_t *)"x", 1, 1000000), -EBADF);
	cr_assert_eq(fdio_recv(sv[1], buf, sizeof(buf), &got), -EAGAIN);
}
