/* SPDX-License-Identifier: MIT */
/* event.c: events: subscribing, the queue the reply reader fills, and waiting for the next one. */
#include "event.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "demux.h"
#include "error.h"

_Static_assert((int)SHMBUF_EVENT_SEGMENT_CREATED == (int)PROTO_EV_SEGMENT_CREATED &&
	       (int)SHMBUF_EVENT_LEASE_ACQUIRED == (int)PROTO_EV_LEASE_ACQUIRED &&
	       (int)SHMBUF_EVENT_CLIENT_DISCONNECTED == (int)PROTO_EV_CLIENT_DISCONNECTED &&
	       (int)PROTO_EV_TYPE_MAX == (int)SHMBUF_EVENT_CLIENT_DISCONNECTED, "public and wire event types differ");
_Static_assert(SHMBUF_CANCEL_TIMEOUT == PROTO_CANCEL_TIMEOUT && SHMBUF_CANCEL_DESTROY == PROTO_CANCEL_DESTROY &&
	       SHMBUF_CANCEL_SHRINK == PROTO_CANCEL_SHRINK && SHMBUF_CANCEL_DISCONNECT == PROTO_CANCEL_DISCONNECT &&
	       SHMBUF_CANCEL_CANCEL == PROTO_CANCEL_CANCEL, "public and wire cancel reasons differ");

void event_push(struct shmbuf_client *c, const struct proto_event *e)
{
	shmbuf_event *ev;

	if (c->ev_count == c->ev_cap && c->ev_cap < EVENT_QUEUE_MAX) {
		size_t cap = c->ev_cap ? c->ev_cap * 2 : 16;
		shmbuf_event *grown = malloc(cap * sizeof(*grown));

		/* Out of memory, a full queue just drops its oldest event below. */
		if (grown) {
			for (size_t i = 0; i < c->ev_count; i++)
				grown[i] = c->events[(c->ev_head + i) & (c->ev_cap - 1)];
			free(c->events);
			c->events = grown;
			c->ev_cap = cap;
			c->ev_head = 0;
		}
	}
	if (c->ev_cap == 0) {
		c->ev_dropped++;
		return;
	}
	if (c->ev_count == c->ev_cap) {
		c->ev_head = (c->ev_head + 1) & (c->ev_cap - 1);
		c->ev_count--;
		c->ev_dropped++;
	}
	ev = &c->events[(c->ev_head + c->ev_count) & (c->ev_cap - 1)];
	*ev = (shmbuf_event){
		.type = e->type,
		.time_ns = e->time_ns,
		.client_id = e->client_id,
		.pid = (pid_t)e->pid,
		.uid = (uid_t)e->uid,
		.size = e->size,
		.lease_id = e->lease_id,
		.offset = e->offset,
		.length = e->length,
		.flags = (e->flags & PROTO_LEASE_WRITE) ? SHMBUF_LEASE_WRITE : 0,
		.reason = e->reason,
	};
	memcpy(ev->comm, e->comm, sizeof(ev->comm));
	memcpy(ev->segment, e->segment, sizeof(ev->segment));
	c->ev_count++;
	if (c->ev_waiters)
		pthread_cond_broadcast(&c->ev_cond);
}

int shmbuf_subscribe(shmbuf_client *c)
{
	struct proto_msg m = { .op = PROTO_OP_SUBSCRIBE };
	int r;

	error_clear();
	if (!c)
		return -EINVAL;
	r = demux_request(c, &m);
	if (r < 0)
		return r;
	pthread_mutex_lock(&c->lock);
	c->subscribed = true;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Milliseconds until deadline (rounded up), 0 once it passed; -1 when timeout_ms is -1 (no deadline). */
static int ms_left(int timeout_ms, const struct timespec *deadline)
{
	struct timespec now;
	int64_t ns;

	if (timeout_ms < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (int64_t)(deadline->tv_sec - now.tv_sec) * 1000000000 + (deadline->tv_nsec - now.tv_nsec);
	if (ns <= 0)
		return 0;
	return (int)((ns + 999999) / 1000000);
}

/* Called with c->lock held, as the reader; returns with it held. Waits until
 * the socket has something to read (true) or the deadline passes (false). */
static bool client_wait_readable(struct shmbuf_client *c, int timeout_ms, const struct timespec *deadline)
{
	struct pollfd p = { .fd = c->sock, .events = POLLIN };
	int n;

	pthread_mutex_unlock(&c->lock);
	do
		n = poll(&p, 1, ms_left(timeout_ms, deadline));
	while (n < 0 && errno == EINTR);
	pthread_mutex_lock(&c->lock);
	/* An error or hang-up counts as readable: reading it breaks the connection. */
	return n != 0;
}

/* Called with c->lock held and no event queued: waits for one more datagram
 * (reading it when no other thread does) or for the deadline. Returns 0 to look
 * again, or -ETIMEDOUT. */
static int event_wait(struct shmbuf_client *c, int timeout_ms, const struct timespec *deadline)
{
	int left = ms_left(timeout_ms, deadline);
	bool readable;

	if (c->reader_active) {
		/* Another thread reads: it wakes us for each event, and
		 * when it gives the reader role up. */
		if (left == 0)
			return -ETIMEDOUT;
		c->ev_waiters++;
		if (left < 0)
			pthread_cond_wait(&c->ev_cond, &c->lock);
		else
			pthread_cond_timedwait(&c->ev_cond, &c->lock, deadline);
		c->ev_waiters--;
		return 0;
	}
	/* Nobody reads: this thread does, one datagram at a time, and
	 * polls first so as never to block in recv past the deadline.
	 * What it reads may as well be another thread's reply. */
	c->reader_active = true;
	readable = client_wait_readable(c, timeout_ms, deadline);
	if (readable)
		demux_read_one(c);
	demux_reader_release(c);
	return readable ? 0 : -ETIMEDOUT;
}

/* The CLOCK_MONOTONIC time timeout_ms (> 0) from now; zero for other timeouts. */
static struct timespec deadline_after(int timeout_ms)
{
	struct timespec deadline = { 0 };

	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
	}
	return deadline;
}

int shmbuf_next_event(shmbuf_client *c, shmbuf_event *out, size_t size, int timeout_ms)
{
	struct timespec deadline;
	int r;

	error_clear();
	if (!c || !out || size == 0 || timeout_ms < -1)
		return -EINVAL;
	r = client_check_owner(c);
	if (r < 0)
		return r;
	deadline = deadline_after(timeout_ms);

	pthread_mutex_lock(&c->lock);
	if (!c->subscribed) {
		r = -EINVAL;
		goto out;
	}
	for (;;) {
		if (c->ev_count) {
			client_copy_out(out, size, &c->events[c->ev_head], sizeof(shmbuf_event));
			c->ev_head = (c->ev_head + 1) & (c->ev_cap - 1);
			c->ev_count--;
			r = 0;
			break;
		}
		if (c->dead) {
			r = -ECONNRESET;
			break;
		}
		r = event_wait(c, timeout_ms, &deadline);
		if (r < 0)
			break;
	}
out:
	pthread_mutex_unlock(&c->lock);
	/* What was read meanwhile may have retired kept mappings (UNMAP). */
	demux_flush(c);
	return r;
}

uint64_t shmbuf_events_dropped(shmbuf_client *c)
{
	uint64_t n;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	n = c->ev_dropped;
	pthread_mutex_unlock(&c->lock);
	return n;
}

const char *shmbuf_event_name(int type)
{
	switch (type) {
	case SHMBUF_EVENT_SEGMENT_CREATED:
		return "segment-created";
	case SHMBUF_EVENT_SEGMENT_RESIZED:
		return "segment-resized";
	case SHMBUF_EVENT_SEGMENT_DESTROYED:
		return "segment-destroyed";
	case SHMBUF_EVENT_SEGMENT_FREED:
		return "segment-freed";
	case SHMBUF_EVENT_LEASE_ACQUIRED:
		return "lease-acquired";
	case SHMBUF_EVENT_LEASE_RELEASED:
		return "lease-released";
	case SHMBUF_EVENT_LEASE_WAITING:
		return "lease-waiting";
	case SHMBUF_EVENT_LEASE_CANCELLED:
		return "lease-cancelled";
	case SHMBUF_EVENT_CLIENT_CONNECTED:
		return "client-connected";
	case SHMBUF_EVENT_CLIENT_DISCONNECTED:
		return "client-disconnected";
	}
	return "unknown";
}
