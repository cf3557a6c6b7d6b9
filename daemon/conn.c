/* SPDX-License-Identifier: MIT */
/* conn.c: the transport: a connection's non-blocking datagram I/O, fds, bounded outgoing queue. */
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

/* A message the socket could not take at once. Owned by its connection's queue. */
struct outmsg {
	TAILQ_ENTRY(outmsg) link;
	int fd; /* our own dup, closed once sent or dropped */
	struct conn_tag tag; /* with fd: handed back if the kernel refuses it */
	bool is_owed;        /* sent with conn_send_owed(): not counted against max_queue */
	size_t len;
	uint8_t buf[];
};

/* Datagrams handled per readable wake-up before yielding to other peers, so
 * one flooding client cannot monopolise the loop. */
#define CONN_BATCH 32

/* Asked of the kernel per socket, which doubles it for bookkeeping. Still
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

/* The peer's supplementary groups (SO_PEERGROUPS, Linux 4.13): what it may
 * use of a segment's group bits, read once like SO_PEERCRED. */
static int read_groups(struct conn *c)
{
	socklen_t len = 32 * sizeof(gid_t);

	for (int tries = 0; tries < 2; tries++) {
		gid_t *g = realloc(c->groups, len ? len : sizeof(gid_t));

		if (!g)
			return -ENOMEM;
		c->groups = g;
		if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
			c->n_groups = (uint32_t)(len / sizeof(gid_t));
			return 0;
		}
		if (errno != ERANGE)
			return -errno;
		/* len now says how much the list needs */
	}
	return -ERANGE;
}

int conn_new(struct conn_env *env, int fd, void *data, struct conn **out)
{
	socklen_t len = sizeof(struct ucred);
	struct conn *c;
	int r;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->env = env;
	c->data = data;
	c->fd = fd;
	TAILQ_INIT(&c->outq);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0) {
		r = -errno;
		goto fail;
	}
	r = read_groups(c);
	if (r < 0)
		goto fail;
	read_comm(c->cred.pid, c->comm, sizeof(c->comm));
	/* Every fd we pass stays charged to us until the client reads it, and the
	 * kernel refuses to pass more once we have RLIMIT_NOFILE in flight. A small
	 * send buffer bounds what one client that never reads can hold unread
	 * (some 40 replies); past it, replies wait in our bounded queue. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ CONN_SNDBUF }, sizeof(int));
	r = uv_poll_init(env->loop, &c->poll, fd);
	if (r < 0)
		goto fail;
	c->poll.data = c;
	r = uv_poll_start(&c->poll, UV_READABLE | UV_DISCONNECT, on_poll);
	if (r < 0) {
		/* The handle is initialised: only libuv may free it now. */
		conn_close(c);
		return r;
	}
	*out = c;
	return 0;
fail:
	close(fd);
	free(c->groups);
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

	if (!c->is_closing && !c->is_dead)
		uv_poll_start(&c->poll, events, on_poll);
}

static int queue_msg(struct conn *c, const uint8_t *buf, size_t len, int fd, struct conn_tag tag, bool is_owed)
{
	struct conn_env *env = c->env;
	struct outmsg *o;

	if (!is_owed && c->outq_len - c->outq_owed >= env->max_queue)
		return -ENOBUFS;
	if (fd >= 0 && env->queued_fds >= env->fd_budget)
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
		env->queued_fds++;
	o->tag = tag;
	o->is_owed = is_owed;
	o->len = len;
	memcpy(o->buf, buf, len);
	TAILQ_INSERT_TAIL(&c->outq, o, link);
	c->outq_len++;
	c->outq_owed += is_owed;
	return 0;
}

/* o has left the queue: uncount and free it. */
static void outmsg_free(struct conn *c, struct outmsg *o)
{
	c->outq_len--;
	c->outq_owed -= o->is_owed;
	if (o->fd >= 0) {
		close(o->fd);
		c->env->queued_fds--;
	}
	free(o);
}

static int send_or_queue(struct conn *c, const uint8_t *buf, size_t len, int fd, struct conn_tag tag, bool is_owed)
{
	int r;

	if (c->is_dead || c->is_closing)
		return 0;
	if (TAILQ_EMPTY(&c->outq)) {
		r = fdio_send(c->fd, buf, len, fd);
		if (r == 0 || r == -ETOOMANYREFS)
			return r;
		if (r != -EAGAIN) {
			conn_fail(c, strerror(-r));
			return 0;
		}
	}
	r = queue_msg(c, buf, len, fd, tag, is_owed);
	if (r < 0) {
		conn_fail(c, r == -ENOBUFS ? "client does not read its replies (queue full)" : strerror(-r));
		return 0;
	}
	update_events(c);
	return 0;
}

int conn_send(struct conn *c, const uint8_t *buf, size_t len, int fd, struct conn_tag tag)
{
	return send_or_queue(c, buf, len, fd, tag, false);
}

int conn_send_owed(struct conn *c, const uint8_t *buf, size_t len, int fd, struct conn_tag tag)
{
	return send_or_queue(c, buf, len, fd, tag, true);
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
		/* Not this peer's doing (others hold our fds unread): the owner
		 * answers otherwise, behind what is already waiting. */
		if (r == -ETOOMANYREFS)
			c->env->ops->on_fd_refused(c, o->tag);
		outmsg_free(c, o);
	}
	update_events(c);
}

static void read_datagrams(struct conn *c)
{
	struct conn_env *env = c->env;
	int fd;

	for (int i = 0; i < CONN_BATCH && !c->is_dead && TAILQ_EMPTY(&c->outq); i++) {
		long n = fdio_recv(c->fd, env->rxbuf, env->max_message, &fd);

		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n == 0) {
			conn_fail(c, NULL); /* orderly close */
			return;
		}
		if (n == -EMSGSIZE || n == -EBADMSG) {
			/* fdio closed whatever fds came with it. */
			env->ops->on_bad_datagram(c, (int)n);
			continue;
		}
		if (n < 0) {
			conn_fail(c, strerror((int)-n));
			return;
		}
		env->ops->on_datagram(c, env->rxbuf, (size_t)n, fd);
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct conn *c = h->data;

	if (c->is_dead || c->is_closing)
		return;
	if (status < 0) {
		/* libuv reports EPOLLERR as UV_EBADF: the socket has a pending error,
		 * typically a peer that closed with replies unread. Take what it sent
		 * before that; recv then reports the real error and fails the connection. */
		read_datagrams(c);
		conn_fail(c, "connection reset by the client");
		return;
	}
	if (events & UV_WRITABLE)
		flush_queue(c);
	if (events & UV_READABLE)
		read_datagrams(c);
	/* UV_DISCONNECT alone: the peer hung up; read until recv says so, so
	 * requests it sent before hanging up are still answered (or dropped). */
	if ((events & UV_DISCONNECT) && !(events & UV_READABLE) && !c->is_dead)
		read_datagrams(c);
}

void conn_fail(struct conn *c, const char *why)
{
	if (c->is_dead || c->is_closing)
		return;
	c->is_dead = true;
	if (why)
		log_info("client %d (%s, uid %d): dropping connection: %s", (int)c->cred.pid, c->comm,
			 (int)c->cred.uid, why);
	else
		log_debug("client %d (%s): disconnected", (int)c->cred.pid, c->comm);
	uv_poll_stop(&c->poll);
	c->env->ops->on_fail(c);
}

static void on_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	/* Closed only now: libuv must have stopped watching the fd before its
	 * number can be reused by the next accept. */
	close(c->fd);
	free(c->groups);
	free(c);
}

void conn_close(struct conn *c)
{
	struct outmsg *o;

	if (c->is_closing)
		return;
	c->is_closing = true;
	while ((o = TAILQ_FIRST(&c->outq))) {
		TAILQ_REMOVE(&c->outq, o, link);
		outmsg_free(c, o);
	}
	uv_close((uv_handle_t *)&c->poll, on_closed);
}
