/* conn.c: a client connection's non-blocking datagram I/O, fds and bounded outgoing queue. */
#define _GNU_SOURCE
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"
#include "server.h"

/* A reply the socket could not take at once. Owned by its connection's queue. */
struct outmsg {
	TAILQ_ENTRY(outmsg) link;
	int fd; /* our own dup, closed once sent or dropped */
	uint64_t lease_id; /* with fd: the lease it grants, to revoke if it cannot be passed */
	uint32_t seq;
	size_t len;
	uint8_t buf[];
};

/* Requests handled per readable wake-up before yielding to other clients, so
 * one flooding client cannot monopolise the loop. */
#define CONN_BATCH 32

/* Asked of the kernel per client socket, which doubles it for bookkeeping. Still
 * holds the largest reply (a 5 KiB LIST page) several times over. */
#define CONN_SNDBUF 16384

static void on_poll(uv_poll_t *h, int status, int events);

static void read_comm(pid_t pid, char *out, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(out, cap, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, out, cap - 1);
	close(fd);
	if (n <= 0) {
		snprintf(out, cap, "?");
		return;
	}
	/* The kernel ends comm with one newline; a newline inside is the name's own. */
	if (out[n - 1] == '\n')
		n--;
	out[n] = '\0';
}

int conn_new(struct server *srv, int fd, struct conn **out)
{
	socklen_t len = sizeof(struct ucred);
	struct conn *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->srv = srv;
	c->fd = fd;
	c->id = ++srv->next_conn_id;
	c->connected_ns = server_now_ns();
	TAILQ_INIT(&c->grants);
	TAILQ_INIT(&c->outq);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0) {
		r = -errno;
		goto fail;
	}
	read_comm(c->cred.pid, c->comm, sizeof(c->comm));
	/* Every fd we pass stays charged to us until the client reads it, and the
	 * kernel refuses to pass more once we have RLIMIT_NOFILE in flight. A small
	 * send buffer bounds what one client that never reads can hold unread
	 * (some 40 replies); past it, replies wait in our bounded queue. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ CONN_SNDBUF }, sizeof(int));
	r = uv_poll_init(srv->loop, &c->poll, fd);
	if (r < 0)
		goto fail;
	c->poll.data = c;
	r = uv_poll_start(&c->poll, UV_READABLE | UV_DISCONNECT, on_poll);
	TAILQ_INSERT_TAIL(&srv->conns, c, link);
	srv->n_conns++;
	server_user_conns(srv, c->cred.uid, +1);
	if (r < 0) {
		/* The handle is initialised: only libuv may free it now. */
		conn_close(c);
		return r;
	}
	*out = c;
	return 0;
fail:
	close(fd);
	free(c);
	return r;
}

static void update_events(struct conn *c)
{
	/* Back-pressure: while replies are queued, read nothing more from this
	 * client. A client that sends without reading stalls itself, not us. */
	/* Not UV_DISCONNECT while writing: it is level-triggered, and a client that
	 * half-closed with replies unread would make the loop spin. */
	int events = TAILQ_EMPTY(&c->outq) ? UV_READABLE | UV_DISCONNECT : UV_WRITABLE;

	if (!c->closing && !c->dead)
		uv_poll_start(&c->poll, events, on_poll);
}

static int queue_msg(struct conn *c, const struct proto_msg *m, const uint8_t *buf, size_t len, int fd)
{
	struct outmsg *o;

	if (c->outq_len >= c->srv->cfg.limits.max_queue)
		return -ENOBUFS;
	if (fd >= 0 && c->srv->queued_fds >= c->srv->fd_budget)
		return -ENOBUFS;
	o = malloc(sizeof(*o) + len);
	if (!o)
		return -ENOMEM;
	o->fd = -1;
	if (fd >= 0 && (o->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(o);
		return -errno;
	}
	if (o->fd >= 0)
		c->srv->queued_fds++;
	/* Only a granted ACQUIRE carries an fd. */
	o->lease_id = fd >= 0 ? m->u.acquire_reply.lease_id : 0;
	o->seq = m->seq;
	o->len = len;
	memcpy(o->buf, buf, len);
	TAILQ_INSERT_TAIL(&c->outq, o, link);
	c->outq_len++;
	return 0;
}

static void outmsg_free(struct conn *c, struct outmsg *o)
{
	if (o->fd >= 0) {
		close(o->fd);
		c->srv->queued_fds--;
	}
	free(o);
}

int conn_send(struct conn *c, const struct proto_msg *m, int fd)
{
	uint8_t buf[PROTO_MAX_MESSAGE];
	int len, r;

	if (c->dead || c->closing)
		return 0;
	len = proto_encode(m, buf, sizeof(buf));
	if (len < 0) {
		/* Our own message failed to encode: a daemon bug, not the client's fault. */
		log_err("client %d (%s): cannot encode %s reply: %s", (int)c->cred.pid, c->comm,
			proto_op_name(m->op), strerror(-len));
		conn_fail(c, "internal encoding error");
		return 0;
	}
	if (TAILQ_EMPTY(&c->outq)) {
		r = fdio_send(c->fd, buf, (size_t)len, fd);
		if (r == 0 || r == -ETOOMANYREFS)
			return r;
		if (r != -EAGAIN) {
			conn_fail(c, strerror(-r));
			return 0;
		}
	}
	r = queue_msg(c, m, buf, (size_t)len, fd);
	if (r < 0) {
		conn_fail(c, r == -ENOBUFS ? "client does not read its replies (queue full)" : strerror(-r));
		return 0;
	}
	update_events(c);
	return 0;
}

static void flush_queue(struct conn *c)
{
	struct outmsg *o;
	int r;

	while ((o = TAILQ_FIRST(&c->outq))) {
		r = fdio_send(c->fd, o->buf, o->len, o->fd);
		if (r == -EAGAIN)
			break;
		if (r < 0 && r != -ETOOMANYREFS) {
			conn_fail(c, strerror(-r));
			return;
		}
		TAILQ_REMOVE(&c->outq, o, link);
		c->outq_len--;
		/* Not this client's doing (others hold our fds unread): it gets
		 * LIMIT for that ACQUIRE, queued behind what is already waiting. */
		if (r == -ETOOMANYREFS)
			request_fd_refused(c, o->lease_id, o->seq);
		outmsg_free(c, o);
	}
	update_events(c);
}

static void read_requests(struct conn *c)
{
	struct server *srv = c->srv;
	int fd;

	for (int i = 0; i < CONN_BATCH && !c->dead && TAILQ_EMPTY(&c->outq); i++) {
		long n = fdio_recv(c->fd, srv->rxbuf, srv->cfg.limits.max_message, &fd);

		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n == 0) {
			conn_fail(c, NULL); /* orderly close */
			return;
		}
		if (n == -EMSGSIZE) {
			/* The datagram is gone; its seq is unknown, so answer with seq 0. */
			struct proto_msg req = { .op = PROTO_OP_HELLO, .seq = 0 }, rep;
			char msg[96];

			snprintf(msg, sizeof(msg), "message larger than the %u bytes shmbufd accepts",
				 srv->cfg.limits.max_message);
			proto_make_error(&rep, &req, PROTO_E_MSGSIZE, msg);
			log_info("client %d (%s): %s", (int)c->cred.pid, c->comm, msg);
			conn_send(c, &rep, -1);
			continue;
		}
		if (n == -EBADMSG) {
			/* fdio closed whatever fds came with it. */
			struct proto_msg req = { .op = PROTO_OP_HELLO, .seq = 0 }, rep;

			proto_make_error(&rep, &req, PROTO_E_BADFD, "file descriptors are not accepted");
			conn_send(c, &rep, -1);
			conn_fail(c, "sent file descriptors");
			return;
		}
		if (n < 0) {
			conn_fail(c, strerror((int)-n));
			return;
		}
		request_handle(c, srv->rxbuf, (size_t)n, fd);
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct conn *c = h->data;

	if (c->dead || c->closing)
		return;
	if (status < 0) {
		/* libuv reports EPOLLERR as UV_EBADF: the socket has a pending error,
		 * typically a peer that closed with replies unread. Take what it sent
		 * before that; recv then reports the real error and fails the connection. */
		read_requests(c);
		conn_fail(c, "connection reset by the client");
		return;
	}
	if (events & UV_WRITABLE)
		flush_queue(c);
	if (events & UV_READABLE)
		read_requests(c);
	/* UV_DISCONNECT alone: the peer hung up; read until recv says so, so
	 * requests it sent before hanging up are still answered (or dropped). */
	if ((events & UV_DISCONNECT) && !(events & UV_READABLE) && !c->dead)
		read_requests(c);
}

void conn_fail(struct conn *c, const char *why)
{
	if (c->dead || c->closing)
		return;
	c->dead = true;
	if (why)
		log_info("client %d (%s, uid %d): dropping connection: %s", (int)c->cred.pid, c->comm,
			 (int)c->cred.uid, why);
	else
		log_debug("client %d (%s): disconnected", (int)c->cred.pid, c->comm);
	uv_poll_stop(&c->poll);
	TAILQ_INSERT_TAIL(&c->srv->dead_conns, c, dead_link);
	server_schedule_reap(c->srv);
}

static void on_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	/* Closed only now: libuv must have stopped watching the fd before its
	 * number can be reused by the next accept. */
	close(c->fd);
	free(c);
}

void conn_close(struct conn *c)
{
	struct outmsg *o;

	if (c->closing)
		return;
	c->closing = true;
	if (c->subscribed)
		c->srv->n_subscribers--;
	while ((o = TAILQ_FIRST(&c->outq))) {
		TAILQ_REMOVE(&c->outq, o, link);
		outmsg_free(c, o);
	}
	c->outq_len = 0;
	TAILQ_REMOVE(&c->srv->conns, c, link);
	c->srv->n_conns--;
	server_user_conns(c->srv, c->cred.uid, -1);
	uv_close((uv_handle_t *)&c->poll, on_closed);
}
