/* SPDX-License-Identifier: MIT */
/* async.c: acquires that do not block, for event loops (libseat's style):
 * shmbuf_get_fd() to poll, shmbuf_acquire_async() and its NEWER form to
 * start, shmbuf_cancel() to end a wait, shmbuf_dispatch() to run callbacks.
 *
 * An operation's reply may be read by any thread (a blocking call's reader
 * reads for everybody, demux.c), so completion only queues the operation and
 * signals an eventfd; callbacks run in shmbuf_dispatch() alone, in completion
 * order. The descriptor handed out is an epoll instance holding the socket
 * (data for dispatch to read) and that eventfd (operations completed). */
#define _GNU_SOURCE
#include "shmbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <unistd.h>

#include "async.h"
#include "client.h"
#include "demux.h"
#include "error.h"
#include "view.h"

/* Owned by the client's async state from start until its callback ran (or the
 * client is disconnected). */
struct async_op {
	struct demux_async d;
	uint64_t ticket;
	bool is_done;      /* answered: on the completed list */
	bool is_cancelled; /* shmbuf_cancel(): report -ECANCELED, give back a grant */
	shmbuf_acquire_cb *cb;
	void *userdata;
	struct view_req req;
	TAILQ_ENTRY(async_op) link;      /* state->live */
	TAILQ_ENTRY(async_op) done_link; /* state->completed while is_done */
	struct proto_msg msg;            /* the request, then its answer */
};

TAILQ_HEAD(async_list, async_op);

/* Owned by the client (c->async), created on first use. */
struct async_state {
	int epfd;
	int efd;
	bool is_signalled; /* efd counts completions not yet taken by dispatch */
	uint64_t next_ticket;
	struct async_list live;      /* every operation not yet dispatched */
	struct async_list completed; /* answered, in completion order (linked by done_link) */
};

/* Called with c->lock held. */
static int state_get(shmbuf_client *c, struct async_state **out)
{
	struct async_state *st = c->async;
	struct epoll_event ev = { .events = EPOLLIN };

	if (st) {
		*out = st;
		return 0;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	TAILQ_INIT(&st->live);
	TAILQ_INIT(&st->completed);
	st->next_ticket = 1;
	st->epfd = epoll_create1(EPOLL_CLOEXEC);
	st->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (st->epfd < 0 || st->efd < 0)
		goto fail;
	ev.data.fd = c->sock;
	if (epoll_ctl(st->epfd, EPOLL_CTL_ADD, c->sock, &ev) < 0)
		goto fail;
	ev.data.fd = st->efd;
	if (epoll_ctl(st->epfd, EPOLL_CTL_ADD, st->efd, &ev) < 0)
		goto fail;
	c->async = st;
	*out = st;
	return 0;

fail:
	{
		int err = errno ? -errno : -EIO; /* never 0: the caller reads *out on success */

		if (st->epfd >= 0)
			close(st->epfd);
		if (st->efd >= 0)
			close(st->efd);
		free(st);
		return err;
	}
}

void async_socket_changed(shmbuf_client *c)
{
	struct epoll_event ev = { .events = EPOLLIN };

	pthread_mutex_lock(&c->lock);
	ev.data.fd = c->sock;
	/* The old socket's entry went with its last descriptor. */
	if (c->async && epoll_ctl(c->async->epfd, EPOLL_CTL_ADD, c->sock, &ev) < 0 && errno == EEXIST)
		(void)epoll_ctl(c->async->epfd, EPOLL_CTL_MOD, c->sock, &ev);
	pthread_mutex_unlock(&c->lock);
}

int shmbuf_get_fd(shmbuf_client *c)
{
	struct async_state *st = NULL;
	int r;

	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	r = state_get(c, &st);
	pthread_mutex_unlock(&c->lock);
	return r < 0 ? r : st->epfd;
}

/* demux_async.done: called with c->lock held by whichever thread read the answer. */
static void on_answered(struct shmbuf_client *c, struct demux_async *d)
{
	struct async_op *op = (struct async_op *)d;
	struct async_state *st = c->async;
	uint64_t one = 1;

	op->is_done = true;
	TAILQ_INSERT_TAIL(&st->completed, op, done_link);
	if (!st->is_signalled) {
		/* An eventfd write of 1 cannot fail short of overflow. */
		(void)!write(st->efd, &one, sizeof(one));
		st->is_signalled = true;
	}
}

static int start(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length, unsigned flags, bool newer,
		 uint64_t after, int timeout_ms, shmbuf_acquire_cb *cb, void *userdata, uint64_t *ticket)
{
	struct async_state *st = NULL;
	struct async_op *op;
	int r;

	error_clear();
	if (!c || !cb)
		return -EINVAL;
	op = malloc(sizeof(*op));
	if (!op)
		return -ENOMEM;
	r = view_prepare(c, &op->req, &op->msg, name, offset, length, flags, newer, after, timeout_ms);
	if (r < 0) {
		free(op);
		return r;
	}
	op->cb = cb;
	op->userdata = userdata;
	op->is_done = op->is_cancelled = false;
	op->d.done = on_answered;
	pthread_mutex_lock(&c->lock);
	r = state_get(c, &st);
	if (r == 0) {
		op->ticket = st->next_ticket++;
		TAILQ_INSERT_TAIL(&st->live, op, link);
	}
	pthread_mutex_unlock(&c->lock);
	if (r == 0)
		r = demux_start_async(c, &op->msg, &op->d);
	if (r < 0) {
		if (st) {
			pthread_mutex_lock(&c->lock);
			TAILQ_REMOVE(&st->live, op, link);
			pthread_mutex_unlock(&c->lock);
		}
		view_abandon(c, &op->req);
		free(op);
		return r;
	}
	if (ticket)
		*ticket = op->ticket;
	return 0;
}

int shmbuf_acquire_async(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length, unsigned flags,
			 int timeout_ms, shmbuf_acquire_cb *cb, void *userdata, uint64_t *ticket)
{
	return start(c, name, offset, length, flags, false, 0, timeout_ms, cb, userdata, ticket);
}

int shmbuf_acquire_newer_async(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length,
			       unsigned flags, uint64_t after, int timeout_ms, shmbuf_acquire_cb *cb, void *userdata,
			       uint64_t *ticket)
{
	return start(c, name, offset, length, flags, true, after, timeout_ms, cb, userdata, ticket);
}

/* Called with c->lock held. */
static struct async_op *find_live(struct async_state *st, uint64_t ticket)
{
	struct async_op *op;

	if (!st)
		return NULL;
	TAILQ_FOREACH(op, &st->live, link) {
		if (op->ticket == ticket)
			return op;
	}
	return NULL;
}

int shmbuf_cancel(shmbuf_client *c, uint64_t ticket)
{
	struct proto_msg m; /* not zeroed whole: the header and u.cancel are set */
	struct async_op *op;
	uint32_t seq = 0;
	int r;

	error_clear();
	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	op = find_live(c->async, ticket);
	if (op && !op->is_cancelled) {
		op->is_cancelled = true;
		seq = op->is_done ? 0 : op->d.seq;
	}
	pthread_mutex_unlock(&c->lock);
	if (!op)
		return -ENOENT;
	if (seq == 0)
		return 0; /* answered already (or cancelled twice): dispatch reports it cancelled */
	/* The daemon answers the ACQUIRE (CANCELED) before the CANCEL; NOENT means
	 * its grant or failure is on the way already: dispatch gives a grant back. */
	m.op = PROTO_OP_CANCEL;
	m.u.cancel = (struct proto_cancel){ .acquire_seq = seq };
	r = demux_request(c, &m);
	error_clear();
	return r == -ENOENT ? 0 : r;
}

/* One answered operation: its view (or failure), then its callback. */
static void complete(shmbuf_client *c, struct async_op *op)
{
	shmbuf_view view = { 0 };
	int r = view_finish(c, &op->req, op->d.err, &op->msg, op->d.fd, &view, sizeof(view));

	if (op->is_cancelled) {
		if (r == 0)
			(void)shmbuf_release(c, &view, sizeof(view));
		r = -ECANCELED;
	}
	op->cb(c, r, r == 0 ? &view : NULL, op->userdata);
}

int shmbuf_dispatch(shmbuf_client *c)
{
	struct async_list batch = TAILQ_HEAD_INITIALIZER(batch);
	struct async_state *st;
	struct async_op *op;
	uint64_t count;
	bool dead;
	int n = 0, r;

	if (!c)
		return -EINVAL;
	r = client_check_owner(c);
	if (r < 0)
		return r;
	/* Reads what has come, unless another thread is the reader (it hands
	 * our answers over as they come). */
	demux_drain(c);
	pthread_mutex_lock(&c->lock);
	st = c->async;
	if (st) {
		while ((op = TAILQ_FIRST(&st->completed))) {
			TAILQ_REMOVE(&st->completed, op, done_link);
			TAILQ_REMOVE(&st->live, op, link);
			TAILQ_INSERT_TAIL(&batch, op, done_link);
		}
		if (st->is_signalled) {
			(void)!read(st->efd, &count, sizeof(count));
			st->is_signalled = false;
		}
	}
	dead = c->dead;
	pthread_mutex_unlock(&c->lock);
	/* Callbacks run without the lock: they may call anything, this included. */
	while ((op = TAILQ_FIRST(&batch))) {
		TAILQ_REMOVE(&batch, op, done_link);
		complete(c, op);
		free(op);
		n++;
	}
	return dead ? -ECONNRESET : n;
}

void async_free(struct shmbuf_client *c)
{
	struct async_state *st = c->async;
	struct async_op *op;

	if (!st)
		return;
	/* Completed ones are on both lists: leave the completed list, then free all. */
	while ((op = TAILQ_FIRST(&st->completed)))
		TAILQ_REMOVE(&st->completed, op, done_link);
	/* Callbacks never run after disconnect; a grant's fd is closed unmapped
	 * (the daemon ends the lease with the connection). */
	while ((op = TAILQ_FIRST(&st->live))) {
		TAILQ_REMOVE(&st->live, op, link);
		if (op->is_done && op->d.fd >= 0)
			close(op->d.fd);
		free(op);
	}
	close(st->epfd);
	close(st->efd);
	free(st);
	c->async = NULL;
}
