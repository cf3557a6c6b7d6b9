/* SPDX-License-Identifier: MIT */
/* reconnect.c: when the daemon goes away (a crash, a restart), the reader that finds the
 * socket closed connects again, with backoff and a bound on the total time, says HELLO,
 * RECLAIMs every view the application still holds (the daemon kept them as orphans, see
 * docs/protocol.md 9.11), RECLAIMs and RELEASEs what was released but maybe never read,
 * subscribes again, and sends again every request still waiting for its answer. The
 * application sees latency, not an error. Kept mappings stay: segment ids survive. */
#define _GNU_SOURCE /* secure_getenv */
#include "reconnect.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "async.h"
#include "demux.h"
#include "event.h"
#include "fdio.h"

#define RECONNECT_DEFAULT_MS 30000
#define BACKOFF_FIRST_MS 5
#define BACKOFF_MAX_MS 500
#define REPLY_WAIT_MS 5000 /* for one answer during a reconnect */
#define RELOG_MAX 65536   /* releases remembered at most; the oldest are surely done */

void reconnect_init(struct shmbuf_client *c)
{
	const char *v = secure_getenv("SHMBUF_RECONNECT");
	const char *t = secure_getenv("SHMBUF_RECONNECT_TIMEOUT");
	char *end;
	double s;

	c->reconnect = !(v && (!strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
			       !strcasecmp(v, "false")));
	c->reconnect_ms = RECONNECT_DEFAULT_MS;
	if (t && *t) {
		s = strtod(t, &end);
		if (!*end && s >= 0 && s <= 86400)
			c->reconnect_ms = (uint32_t)(s * 1000);
	}
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the release log ---------------------------------------------------------- */

void reconnect_note_release(struct shmbuf_client *c, const struct relrec *rec)
{
	struct relog *l = &c->relog;

	if (!c->reconnect)
		return;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct relrec *recs = cap <= RELOG_MAX ? malloc(cap * sizeof(*recs)) : NULL;

		if (!recs) { /* full: forget the oldest, long since done */
			l->head = (l->head + 1) % l->cap;
			l->count--;
		} else {
			for (size_t i = 0; i < l->count; i++)
				recs[i] = l->recs[(l->head + i) % l->cap];
			free(l->recs);
			l->recs = recs;
			l->cap = cap;
			l->head = 0;
		}
	}
	l->recs[(l->head + l->count) % l->cap] = *rec;
	l->count++;
}

void reconnect_confirm(struct shmbuf_client *c, uint64_t send_no)
{
	struct relog *l = &c->relog;

	while (l->count && l->recs[l->head].send_no < send_no) {
		l->head = (l->head + 1) % l->cap;
		l->count--;
	}
}

/* ---- one request at a time on a socket only this thread uses ---------------------- */

/* Sends m (a fresh seq) on sock and waits for its answer, which replaces m. Events that
 * arrive meanwhile are queued; anything else is an answer to nothing pending. 0 or a
 * negative errno (the connection is no good). */
static int sync_call(struct shmbuf_client *c, int sock, struct proto_msg *m)
{
	uint8_t buf[512];
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int n, r, fd = -1;
	long got;

	m->seq = demux_take_seq(c);
	m->status = PROTO_OK;
	n = proto_encode(m, buf, sizeof(buf));
	if (n < 0)
		return n;
	while ((r = fdio_send(sock, buf, (size_t)n, -1)) == -EINTR)
		;
	if (r < 0)
		return r;
	for (;;) {
		uint32_t seq = m->seq;

		n = poll(&p, 1, REPLY_WAIT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ETIMEDOUT;
		got = fdio_recv_reply(sock, c->rbuf, PROTO_MAX_MESSAGE, &fd);
		if (got == -EINTR)
			continue;
		if (fd >= 0)
			close(fd);
		if (got <= 0)
			return got < 0 ? (int)got : -ECONNRESET;
		if (proto_decode(c->rbuf, (size_t)got, &c->rmsg, NULL) < 0 || !(c->rmsg.op & PROTO_REPLY_BIT))
			return -EPROTO;
		if (c->rmsg.seq == seq) {
			*m = c->rmsg;
			return 0;
		}
		if (c->rmsg.seq == 0 && c->rmsg.status == PROTO_OK && c->rmsg.op == (PROTO_OP_EVENT | PROTO_REPLY_BIT)) {
			pthread_mutex_lock(&c->lock);
			event_push(c, &c->rmsg.u.event);
			pthread_mutex_unlock(&c->lock);
		}
	}
}

/* A new connection, HELLO said. Returns its socket or a negative errno. */
static int connect_once(struct shmbuf_client *c)
{
	struct proto_msg m = { .op = PROTO_OP_HELLO };
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), r;

	if (s < 0)
		return -errno;
	if (connect(s, (const struct sockaddr *)&c->addr, sizeof(c->addr)) < 0) {
		r = -errno;
		close(s);
		return r;
	}
	m.u.hello = (struct proto_hello){ PROTO_MAGIC, PROTO_VERSION, PROTO_VERSION };
	r = sync_call(c, s, &m);
	if (r == 0 && m.status != PROTO_OK)
		r = proto_status_to_errno(m.status);
	if (r == 0 && m.u.hello_reply.version != PROTO_VERSION)
		r = -EPROTONOSUPPORT;
	if (r < 0) {
		close(s);
		return r;
	}
	c->max_message = m.u.hello_reply.max_message;
	return s;
}

/* Tries until a daemon answers HELLO or c->reconnect_ms passes. */
static int connect_again(struct shmbuf_client *c)
{
	int64_t deadline = mono_ms() + c->reconnect_ms;
	int wait = BACKOFF_FIRST_MS, s;

	for (;;) {
		s = connect_once(c);
		if (s >= 0 || s == -EPROTONOSUPPORT || mono_ms() + wait > deadline)
			return s;
		usleep((useconds_t)wait * 1000);
		wait = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
	}
}

/* ---- taking the leases back ---------------------------------------------------------- */

static int reclaim(struct shmbuf_client *c, uint64_t lease_id, uint64_t segment_id, uint64_t offset,
		   uint64_t length, uint32_t mode)
{
	struct proto_msg m = { .op = PROTO_OP_RECLAIM };
	int r;

	m.u.reclaim = (struct proto_reclaim){ lease_id, segment_id, offset, length, mode };
	r = sync_call(c, c->sock, &m);
	return r < 0 ? r : proto_status_to_errno(m.status);
}

/* Every view still held: RECLAIM it; one the daemon no longer knows is stale (its
 * release says -ESTALE). Returns 0, or a negative errno when the connection failed. */
static int reclaim_views(struct shmbuf_client *c)
{
	struct relrec *v;
	size_t n = 0;
	int r = 0;

	pthread_mutex_lock(&c->lock);
	v = malloc((c->views.count + 1) * sizeof(*v));
	for (size_t i = 0; v && c->views.slots && i <= c->views.mask; i++) {
		const struct idtable_slot *s = &c->views.slots[i];
		const struct mc_map *map = s->ptr;

		if (s->used && !idtable_find(&c->stale, s->key))
			v[n++] = (struct relrec){ s->key, map->entry->segment_id, s->aux, s->len, map->entry->mode, 0 };
	}
	pthread_mutex_unlock(&c->lock);
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = reclaim(c, v[i].lease_id, v[i].segment_id, v[i].offset, v[i].length, v[i].mode);
		if (r == -ESTALE || r == -ENOENT || r == -EINVAL) {
			pthread_mutex_lock(&c->lock);
			(void)idtable_insert(&c->stale, v[i].lease_id, NULL, 0);
			pthread_mutex_unlock(&c->lock);
			r = 0;
		}
		r = r == -ECONNRESET || r == -EPIPE || r == -ETIMEDOUT || r == -EPROTO ? r : 0;
	}
	free(v);
	return r;
}

/* Releases sent but maybe never read by the daemon that died: they are orphans now, held
 * by nobody; RECLAIM and RELEASE them (NOENT: it had them done). */
static int redo_releases(struct shmbuf_client *c)
{
	struct proto_msg m = { .op = PROTO_OP_RELEASE };
	int r = 0;

	for (;;) {
		struct relrec rec;

		pthread_mutex_lock(&c->lock);
		if (c->relog.count == 0) {
			pthread_mutex_unlock(&c->lock);
			return 0;
		}
		rec = c->relog.recs[c->relog.head];
		c->relog.head = (c->relog.head + 1) % c->relog.cap;
		c->relog.count--;
		pthread_mutex_unlock(&c->lock);
		r = reclaim(c, rec.lease_id, rec.segment_id, rec.offset, rec.length, rec.mode);
		if (r == 0) {
			m.u.release = (struct proto_release){ .lease_id = rec.lease_id };
			r = sync_call(c, c->sock, &m);
		}
		if (r == -ECONNRESET || r == -EPIPE || r == -ETIMEDOUT || r == -EPROTO)
			return r;
	}
}

static int resubscribe(struct shmbuf_client *c)
{
	struct proto_msg m = { .op = PROTO_OP_SUBSCRIBE };
	bool subscribed;

	pthread_mutex_lock(&c->lock);
	subscribed = c->subscribed;
	pthread_mutex_unlock(&c->lock);
	return subscribed ? sync_call(c, c->sock, &m) : 0;
}

/* Called with c->lock held: encodes pending request (call or async) s again for a new
 * connection into *out (malloc'd, *len bytes). false when it never went out. */
static bool encode_again(struct shmbuf_client *c, struct idtable_slot *s, uint8_t **out, int *len)
{
	struct demux_async *a = s->len == PENDING_ASYNC ? s->ptr : NULL;
	struct call *call = a ? NULL : s->ptr;
	struct proto_msg *m = a ? a->reply : call->reply;
	int64_t left;

	if (!(a ? a->sent : call->sent))
		return false; /* its thread sends it, on the new socket */
	/* A wait with a deadline waits what is left of it (at least 1 ms: 0 would mean BUSY). */
	if (m->op == PROTO_OP_ACQUIRE && m->u.acquire.timeout_ms > 0) {
		left = m->u.acquire.timeout_ms - (mono_ms() - (a ? a->sent_ms : call->sent_ms));
		m->u.acquire.timeout_ms = left > 0 ? (int32_t)left : 1;
	}
	*out = malloc(REQUEST_MAX);
	*len = *out ? proto_encode(m, *out, REQUEST_MAX) : -ENOMEM;
	if (a) {
		a->resent = true;
		a->send_no = ++c->sent_no;
	} else {
		call->resent = true;
		call->send_no = ++c->sent_no;
	}
	return true;
}

/* Called with c->send_lock held after a reconnect: sends every pending request that went
 * out before it again, on the new socket, under its own seq. 0 or a negative errno. */
static int resend_pending(struct shmbuf_client *c)
{
	uint8_t **bufs;
	int *lens, r = 0;
	size_t n = 0;

	pthread_mutex_lock(&c->lock);
	bufs = calloc(c->pending.count + 1, sizeof(*bufs));
	lens = calloc(c->pending.count + 1, sizeof(*lens));
	for (size_t i = 0; bufs && lens && c->pending.slots && i <= c->pending.mask; i++) {
		if (c->pending.slots[i].used && encode_again(c, &c->pending.slots[i], &bufs[n], &lens[n]))
			n++;
	}
	pthread_mutex_unlock(&c->lock);
	if (!bufs || !lens)
		r = -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		while (r == 0 && lens[i] > 0 && (r = fdio_send(c->sock, bufs[i], (size_t)lens[i], -1)) == -EINTR)
			r = 0;
		free(bufs[i]);
	}
	free(bufs);
	free(lens);
	return r;
}

/* Called with c->send_lock held (no other thread sends). */
static bool reconnect_locked(struct shmbuf_client *c)
{
	int s, r;

	for (int attempt = 0; attempt < 3; attempt++) {
		s = connect_again(c);
		if (s < 0)
			return false;
		/* The same descriptor number: an epoll set watching it (shmbuf_get_fd) is told. */
		if (dup3(s, c->sock, O_CLOEXEC) < 0) {
			close(s);
			return false;
		}
		close(s);
		async_socket_changed(c);
		r = reclaim_views(c);
		if (r == 0)
			r = redo_releases(c);
		if (r == 0)
			r = resubscribe(c);
		if (r == 0)
			r = resend_pending(c);
		if (r == 0)
			return true;
		/* The daemon went away again in the middle: start over. */
	}
	return false;
}

bool reconnect_run(struct shmbuf_client *c)
{
	bool ok;

	if (!c->reconnect || c->dead)
		return false;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&c->send_lock);
	ok = reconnect_locked(c);
	pthread_mutex_unlock(&c->send_lock);
	pthread_mutex_lock(&c->lock);
	if (ok)
		c->reconnects++;
	return ok;
}

uint64_t shmbuf_reconnects(shmbuf_client *c)
{
	uint64_t n;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	n = c->reconnects;
	pthread_mutex_unlock(&c->lock);
	return n;
}
