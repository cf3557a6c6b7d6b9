/* SPDX-License-Identifier: MIT */
/* demux.c: the reply reader. Requests from any thread go out on the one
 * socket; whichever waiting thread finds no reader becomes it (leader/follower),
 * reads replies for everybody until its own arrives, then passes the role on to
 * the oldest other waiter. So a long-blocked ACQUIRE never holds up other calls. */
#include "demux.h"
#include "error.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "fdio.h"
#include "reconnect.h"

static void waiters_push(struct shmbuf_client *c, struct call *call)
{
	call->prev = c->waiters_tail;
	call->next = NULL;
	if (c->waiters_tail)
		c->waiters_tail->next = call;
	else
		c->waiters = call;
	c->waiters_tail = call;
	call->listed = true;
}

static void waiters_unlink(struct shmbuf_client *c, struct call *call)
{
	if (!call->listed)
		return;
	if (call->prev)
		call->prev->next = call->next;
	else
		c->waiters = call->next;
	if (call->next)
		call->next->prev = call->prev;
	else
		c->waiters_tail = call->prev;
	call->listed = false;
}

/* Called with c->lock held by the thread giving up the reader role. */
void demux_reader_release(struct shmbuf_client *c)
{
	c->reader_active = false;
	/* Every listed thread sleeps in pthread_cond_wait: wake one to read. A
	 * thread waiting for events reads when no call needs to; while a call
	 * thread reads, it wakes event waiters as events arrive. */
	if (c->waiters)
		pthread_cond_signal(&c->waiters->cond);
	else if (c->ev_waiters)
		pthread_cond_broadcast(&c->ev_cond);
}

/* Called with c->lock held. The call is out of client->pending already. */
static void call_finish(struct shmbuf_client *c, struct call *call, int err)
{
	waiters_unlink(c, call);
	call->err = err;
	call->done = true;
	pthread_cond_signal(&call->cond);
}

/* Called with c->lock held. */
static void call_forget(struct shmbuf_client *c, struct call *call, int err)
{
	struct idtable_slot *s = idtable_find(&c->pending, call->seq);

	if (s)
		idtable_remove(&c->pending, s);
	call_finish(c, call, err);
}

/* Called with c->lock held. a is out of client->pending already. */
static void async_finish(struct shmbuf_client *c, struct demux_async *a, int err)
{
	a->err = err;
	a->done(c, a);
}

static void break_one(void *arg, uint64_t key, void *ptr, size_t len)
{
	if (len == PENDING_ASYNC)
		async_finish(arg, ptr, -ECONNRESET);
	else
		call_finish(arg, ptr, -ECONNRESET);
}

/* Called with c->lock held. Nothing more can be read reliably: every pending
 * call fails now, every later one fails before sending. The socket stays open
 * (so the daemon keeps our leases, whose memory is still mapped here) until
 * shmbuf_disconnect(). */
static void client_break(struct shmbuf_client *c)
{
	c->dead = true;
	idtable_clear(&c->pending, break_one, c);
	pthread_cond_broadcast(&c->ev_cond);
}

/* Copies reply src into dst, only as far as its payload goes: a struct
 * proto_msg is over 5 KiB (a listing page), most replies a few dozen bytes. */
static void reply_copy(struct proto_msg *dst, const struct proto_msg *src)
{
	size_t n = offsetof(struct proto_msg, u);

	if (src->status != PROTO_OK) {
		n += sizeof(src->u.error);
	} else {
		switch (src->op & ~PROTO_REPLY_BIT) {
		case PROTO_OP_ACQUIRE:
			n += sizeof(src->u.acquire_reply);
			break;
		case PROTO_OP_HELLO:
			n += sizeof(src->u.hello_reply);
			break;
		case PROTO_OP_STAT:
			n += sizeof(src->u.stat_reply);
			break;
		default:
			n = sizeof(*src); /* listings, and whatever else: all of it */
			break;
		}
	}
	memcpy(dst, src, n);
}

struct fail_all {
	struct shmbuf_client *c;
	const struct proto_msg *err;
};

static void fail_one(void *arg, uint64_t key, void *ptr, size_t len)
{
	struct fail_all *f = arg;
	struct call *call = ptr;

	if (len == PENDING_ASYNC) {
		reply_copy(((struct demux_async *)ptr)->reply, f->err);
		async_finish(f->c, ptr, 0);
		return;
	}
	reply_copy(call->reply, f->err);
	call_finish(f->c, call, 0);
}

/* Called with c->lock held: answer every pending call with the connection-level
 * error reply err, then treat the connection as broken. */
static void client_fail_all(struct shmbuf_client *c, const struct proto_msg *err)
{
	idtable_clear(&c->pending, fail_one, &(struct fail_all){ c, err });
	c->dead = true;
	pthread_cond_broadcast(&c->ev_cond);
}

/* Called with c->lock held: a message with seq 0, which answers no request. */
static void deliver_unasked(struct shmbuf_client *c)
{
	if (c->rmsg.status != PROTO_OK) {
		/* The daemon's last word on the whole connection (limit reached,
		 * malformed request, ...) before it closes it. Every pending call gets it. */
		client_fail_all(c, &c->rmsg);
	} else if (c->rmsg.op == (PROTO_OP_EVENT | PROTO_REPLY_BIT)) {
		/* News for a subscriber. */
		event_push(c, &c->rmsg.u.event);
	} else if (c->rmsg.op == (PROTO_OP_UNMAP | PROTO_REPLY_BIT)) {
		/* A destroyed segment with no lease left: let go of it. The
		 * UNMAP answer goes out with the next send (demux_flush). */
		mapcache_segment_gone(&c->cache, c->rmsg.u.unmap_reply.segment_id);
	}
}

/* Called with c->lock held: a reply nobody waits for, the answer to a quiet
 * request. Success (a daemon that answers every RELEASE) needs nothing; a
 * failure is counted. */
static void deliver_unwaited(struct shmbuf_client *c)
{
	if (c->rmsg.status == PROTO_OK)
		return;
	if (c->rmsg.op == (PROTO_OP_RELEASE | PROTO_REPLY_BIT))
		c->release_errors++;
	else if (c->rmsg.op == (PROTO_OP_UNMAP | PROTO_REPLY_BIT))
		c->unmap_errors++;
}

/* Called with c->lock held: hands the decoded c->rmsg (with fd, or -1) to the
 * call it answers, or to deliver_unasked() / deliver_unwaited(), or breaks the
 * connection. */
static void demux_deliver(struct shmbuf_client *c, int fd)
{
	bool fd_wanted = c->rmsg.status == PROTO_OK && c->rmsg.op == (PROTO_OP_ACQUIRE | PROTO_REPLY_BIT);
	struct idtable_slot *s = c->rmsg.seq ? idtable_find(&c->pending, c->rmsg.seq) : NULL;
	struct demux_async *a = s && s->len == PENDING_ASYNC ? s->ptr : NULL;
	struct call *call = s && !a ? s->ptr : NULL;

	/* Only a grant to a waiting call carries an fd we keep. */
	if (fd >= 0 && (!s || !fd_wanted)) {
		close(fd);
		fd = -1;
	}
	if (c->rmsg.seq == 0) {
		deliver_unasked(c);
		return;
	}
	if (!s) {
		deliver_unwaited(c);
		return;
	}
	/* An error reply has the same layout for every opcode; a success reply
	 * must answer the request actually made, or its payload means nothing. */
	if (c->rmsg.status == PROTO_OK && c->rmsg.op != (a ? PROTO_OP_ACQUIRE | PROTO_REPLY_BIT : call->reply_op)) {
		if (fd >= 0)
			close(fd);
		client_break(c);
		return;
	}
	idtable_remove(&c->pending, s);
	reconnect_confirm(c, a ? a->send_no : call->send_no);
	/* An ACQUIRE sent again after a restart whose segment is gone: it did not survive. */
	if ((a ? a->resent : call->resent) && c->rmsg.status == PROTO_E_NOENT &&
	    c->rmsg.op == (PROTO_OP_ACQUIRE | PROTO_REPLY_BIT))
		c->rmsg.status = PROTO_E_STALE;
	if (a) {
		reply_copy(a->reply, &c->rmsg);
		a->fd = fd;
		async_finish(c, a, 0);
		return;
	}
	reply_copy(call->reply, &c->rmsg);
	call->fd = fd;
	call_finish(c, call, 0);
}

void demux_read_one(struct shmbuf_client *c)
{
	int fd = -1, r = 0;
	long n;

	pthread_mutex_unlock(&c->lock);
	do
		n = fdio_recv_reply(c->sock, c->rbuf, PROTO_MAX_MESSAGE, &fd);
	while (n == -EINTR);
	/* Linux reports a peer that closed with our request unread as one ECONNRESET;
	 * the daemon's last word (a seq-0 error) may still be queued behind it. */
	if (n == -ECONNRESET)
		n = fdio_recv_reply(c->sock, c->rbuf, PROTO_MAX_MESSAGE, &fd);
	if (n > 0)
		r = proto_decode(c->rbuf, (size_t)n, &c->rmsg, NULL);
	pthread_mutex_lock(&c->lock);

	/* A lost or unreadable datagram leaves some caller waiting forever, so any
	 * failure here ends the connection (a garbled reply is not a guess away). */
	if (n <= 0 || r < 0 || !(c->rmsg.op & PROTO_REPLY_BIT)) {
		if (fd >= 0)
			close(fd);
		/* The daemon went away (not a garbled reply): a new connection takes over. */
		if (n <= 0 && reconnect_run(c))
			return;
		client_break(c);
		return;
	}
	demux_deliver(c, fd);
}

/* Called with c->lock held: a fresh seq, never 0 and never one still pending.
 * Quiet requests (RELEASE, UNMAP) are not pending, but an error reply to one
 * may still come: their seqs come back only after 2^32 more requests, and
 * every reply to a later request, and every call of ours, reads up to it. */
static uint32_t client_next_seq(struct shmbuf_client *c)
{
	uint32_t seq;

	do
		seq = c->next_seq++;
	while (seq == 0 || idtable_find(&c->pending, seq));
	return seq;
}

/* Called with c->lock held: numbers and encodes m into buf and registers call
 * as pending. Returns the encoded length, or a negative errno. */
static int call_start(struct shmbuf_client *c, struct call *call, struct proto_msg *m, uint8_t *buf, size_t cap)
{
	int n, r;

	if (c->dead)
		return -ECONNRESET;
	call->seq = m->seq = client_next_seq(c);
	call->reply_op = (uint16_t)(m->op | PROTO_REPLY_BIT);
	n = proto_encode(m, buf, cap);
	if (n < 0)
		return n;
	if (c->max_message && (uint32_t)n > c->max_message)
		return -EMSGSIZE;
	/* Registered before sending: the reply may be read by another thread
	 * before fdio_send even returns here. */
	r = idtable_insert(&c->pending, call->seq, call, 0);
	return r < 0 ? r : n;
}

/* Called with c->lock held: waits until call is done, reading for everybody
 * while no other thread does. */
static void call_wait(struct shmbuf_client *c, struct call *call)
{
	if (!call->done)
		waiters_push(c, call);
	while (!call->done) {
		if (c->reader_active) {
			pthread_cond_wait(&call->cond, &c->lock);
			continue;
		}
		c->reader_active = true;
		while (!call->done)
			demux_read_one(c);
		demux_reader_release(c);
	}
}

/* Called with c->send_lock held: the request is about to go out as the next datagram. */
static void mark_sent(struct shmbuf_client *c, bool *sent, uint64_t *send_no, int64_t *sent_ms)
{
	struct timespec ts;

	/* A wait sent again after a reconnect waits only what is left of its timeout. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&c->lock);
	*sent_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	*sent = true;
	*send_no = ++c->sent_no;
	pthread_mutex_unlock(&c->lock);
}

uint32_t demux_take_seq(struct shmbuf_client *c)
{
	uint32_t seq;

	pthread_mutex_lock(&c->lock);
	seq = client_next_seq(c);
	pthread_mutex_unlock(&c->lock);
	return seq;
}

/* Called with c->lock held: has the cache retired anything not yet freed? */
static bool has_garbage(const struct shmbuf_client *c)
{
	return c->cache.garbage.entries || c->cache.garbage.maps;
}

/* Called with c->send_lock held. */
static int send_datagram(struct shmbuf_client *c, const uint8_t *buf, size_t len)
{
	int r;

	do
		r = fdio_send(c->sock, buf, len, -1);
	while (r == -EINTR);
	return r;
}

/* mapcache_unmap_fn, called with c->send_lock held (and c->lock not): a quiet
 * UNMAP, answered only when the daemon refuses it (counted in unmap_errors). */
static void send_unmap(void *arg, uint64_t segment_id, uint32_t mode)
{
	struct shmbuf_client *c = arg;
	struct proto_msg m; /* not zeroed whole: only the header and u.unmap are encoded */
	uint8_t buf[REQUEST_MAX];
	int n;

	m.op = PROTO_OP_UNMAP;
	m.status = PROTO_OK;
	m.u.unmap = (struct proto_unmap){ .segment_id = segment_id, .modes = mode };
	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	m.seq = client_next_seq(c);
	pthread_mutex_unlock(&c->lock);
	n = proto_encode(&m, buf, sizeof(buf));
	if (n > 0)
		(void)send_datagram(c, buf, (size_t)n);
}

/* Called with c->send_lock held (and c->lock not): unmaps and closes what the
 * cache retired and sends the UNMAPs it owes. Under send_lock, so they are on
 * the wire before any ACQUIRE that no longer claims those fds: the daemon must
 * drop us as a mapper before it sends us the fd again, not after. */
static void flush_garbage(struct shmbuf_client *c)
{
	struct mc_garbage g;

	pthread_mutex_lock(&c->lock);
	mapcache_take_garbage(&c->cache, &g);
	pthread_mutex_unlock(&c->lock);
	mapcache_garbage_free(&g, send_unmap, c);
}

void demux_flush(struct shmbuf_client *c)
{
	bool any;

	pthread_mutex_lock(&c->lock);
	any = has_garbage(c);
	pthread_mutex_unlock(&c->lock);
	if (!any)
		return;
	pthread_mutex_lock(&c->send_lock);
	flush_garbage(c);
	pthread_mutex_unlock(&c->send_lock);
}

int demux_send_quiet(struct shmbuf_client *c, struct proto_msg *m, const struct relrec *rec)
{
	uint8_t buf[REQUEST_MAX];
	bool flush;
	int n, r;

	m->status = PROTO_OK;
	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		pthread_mutex_unlock(&c->lock);
		return -ECONNRESET;
	}
	m->seq = client_next_seq(c);
	flush = has_garbage(c);
	pthread_mutex_unlock(&c->lock);
	n = proto_encode(m, buf, sizeof(buf));
	if (n < 0)
		return n;

	pthread_mutex_lock(&c->send_lock);
	if (flush)
		flush_garbage(c);
	pthread_mutex_lock(&c->lock);
	c->sent_no++;
	if (rec) {
		struct relrec done = *rec;

		done.send_no = c->sent_no;
		reconnect_note_release(c, &done);
	}
	pthread_mutex_unlock(&c->lock);
	r = send_datagram(c, buf, (size_t)n);
	pthread_mutex_unlock(&c->send_lock);
	/* A release the daemon may not have read is done again after a reconnect. */
	if ((r == -EPIPE || r == -ENOTCONN || r == -ECONNRESET) && rec && c->reconnect)
		return 0;
	return r == -EPIPE || r == -ENOTCONN ? -ECONNRESET : r;
}

/* Datagrams one drain reads at most, so a flood of events cannot keep a
 * release from returning. */
#define DRAIN_MAX 64

void demux_drain(struct shmbuf_client *c)
{
	struct pollfd p = { .fd = c->sock, .events = POLLIN };
	int n = 0;

	pthread_mutex_lock(&c->lock);
	/* A reader at work reads it anyway; a broken connection has nothing. */
	if (c->dead || c->reader_active) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->reader_active = true;
	for (int i = 0; i < DRAIN_MAX && !c->dead; i++) {
		pthread_mutex_unlock(&c->lock);
		do
			n = poll(&p, 1, 0);
		while (n < 0 && errno == EINTR);
		pthread_mutex_lock(&c->lock);
		if (n <= 0)
			break;
		demux_read_one(c);
	}
	demux_reader_release(c);
	pthread_mutex_unlock(&c->lock);
}

int demux_start_async(struct shmbuf_client *c, struct proto_msg *m, struct demux_async *a)
{
	uint8_t buf[REQUEST_MAX];
	struct idtable_slot *s;
	bool flush;
	int n, r;

	a->fd = -1;
	a->err = 0;
	a->reply = m;
	a->sent = a->resent = false;
	a->send_no = 0;
	r = client_check_owner(c);
	if (r < 0)
		return r;
	m->status = PROTO_OK;
	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		pthread_mutex_unlock(&c->lock);
		return -ECONNRESET;
	}
	a->seq = m->seq = client_next_seq(c);
	n = proto_encode(m, buf, sizeof(buf));
	r = n < 0 ? n : idtable_insert(&c->pending, a->seq, a, PENDING_ASYNC);
	flush = has_garbage(c);
	pthread_mutex_unlock(&c->lock);
	if (r < 0)
		return r;

	pthread_mutex_lock(&c->send_lock);
	if (flush)
		flush_garbage(c);
	mark_sent(c, &a->sent, &a->send_no, &a->sent_ms);
	r = send_datagram(c, buf, (size_t)n);
	pthread_mutex_unlock(&c->send_lock);
	if (r >= 0 || r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN)
		return 0; /* a closed peer: reading finds why, and a->done() says so */
	/* Not sent: take it back, unless a reader broke the connection and
	 * finished it meanwhile (then done() has run, and it counts as started). */
	pthread_mutex_lock(&c->lock);
	s = idtable_find(&c->pending, a->seq);
	if (s && s->ptr == a)
		idtable_remove(&c->pending, s);
	else
		r = 0;
	pthread_mutex_unlock(&c->lock);
	return r;
}

int demux_call(struct shmbuf_client *c, struct proto_msg *m, int *fd_out)
{
	uint8_t buf[REQUEST_MAX];
	struct call call = { .fd = -1, .reply = m };
	bool flush;
	int n, r;

	if (fd_out)
		*fd_out = -1;
	r = client_check_owner(c);
	if (r < 0)
		return r;
	m->status = PROTO_OK;
	if (pthread_cond_init(&call.cond, NULL) != 0)
		return -ENOMEM;

	pthread_mutex_lock(&c->lock);
	n = r = call_start(c, &call, m, buf, sizeof(buf));
	if (r < 0)
		goto out_locked;
	flush = has_garbage(c);
	pthread_mutex_unlock(&c->lock);

	pthread_mutex_lock(&c->send_lock);
	if (flush)
		flush_garbage(c);
	mark_sent(c, &call.sent, &call.send_no, &call.sent_ms);
	r = send_datagram(c, buf, (size_t)n);
	pthread_mutex_unlock(&c->send_lock);

	pthread_mutex_lock(&c->lock);
	/* Unless the connection broke meanwhile (and the call is done already),
	 * a failed send finishes the call with that error. */
	if (r < 0 && !call.done && r != -EPIPE && r != -ECONNRESET && r != -ENOTCONN)
		call_forget(c, &call, r);
	/* A closed peer may have left its reason queued (a seq-0 error such as
	 * "connection limit reached"): the call stays pending, and reading finds
	 * that reason or end-of-file, which breaks the connection. */
	call_wait(c, &call);
	r = call.err;
	if (r == 0) {
		if (fd_out)
			*fd_out = call.fd;
		else if (call.fd >= 0)
			close(call.fd);
	}
	/* What this wait read may have retired mappings (an UNMAP from the
	 * daemon): let go of them now rather than at the next call. */
	flush = has_garbage(c);
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&call.cond);
	if (flush)
		demux_flush(c);
	return r;

out_locked:
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&call.cond);
	return r;
}

int demux_request(struct shmbuf_client *c, struct proto_msg *m)
{
	int r = demux_call(c, m, NULL);

	return r < 0 ? r : error_from_reply(m);
}
