/* SPDX-License-Identifier: MIT */
/* uv_echo.c: the minimal libuv SOCK_SEQPACKET echo server the throughput row compares the
 * daemon with: one loop, uv_poll on the listening socket and on each connection, every
 * datagram sent straight back. Nothing else: no parsing, no state, no queues. */
#define _GNU_SOURCE
#include "uv_echo.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

struct echo_conn {
	uv_poll_t poll;
	int fd;
};

static void on_closed(uv_handle_t *h)
{
	struct echo_conn *ec = h->data;

	close(ec->fd);
	free(ec);
}

static void on_conn(uv_poll_t *h, int status, int events)
{
	struct echo_conn *ec = h->data;
	char buf[4096];

	for (;;) {
		ssize_t n = recv(ec->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0 || send(ec->fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
			break;
	}
	uv_poll_stop(h);
	uv_close((uv_handle_t *)h, on_closed);
}

static void on_listen(uv_poll_t *h, int status, int events)
{
	int lfd = *(int *)h->data;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct echo_conn *ec;

		if (fd < 0)
			return;
		ec = calloc(1, sizeof(*ec));
		if (!ec || uv_poll_init(h->loop, &ec->poll, fd) < 0) {
			free(ec);
			close(fd);
			continue;
		}
		ec->fd = fd;
		ec->poll.data = ec;
		uv_poll_start(&ec->poll, UV_READABLE, on_conn);
	}
}

int uv_echo_serve(int listen_fd)
{
	uv_loop_t loop;
	uv_poll_t lp;
	int r;

	if ((r = uv_loop_init(&loop)) < 0)
		return r;
	lp.data = &listen_fd;
	if ((r = uv_poll_init(&loop, &lp, listen_fd)) < 0 || (r = uv_poll_start(&lp, UV_READABLE, on_listen)) < 0)
		return r;
	return uv_run(&loop, UV_RUN_DEFAULT); /* until the benchmark kills this process */
}
