/* shmbuf.c: libshmbuf, the client side of shmbufd: connecting, pairing replies with
 * requests across threads, mapping leased ranges, introspection and events. */
#define _GNU_SOURCE             /* strerrordesc_np */
#define _FILE_OFFSET_BITS 64    /* mmap offsets past 2 GiB on 32-bit hosts */

#include "shmbuf.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "proto.h"

_Static_assert(sizeof(off_t) == 8, "mmap needs 64-bit offsets");
_Static_assert(SHMBUF_NAME_MAX == PROTO_NAME_MAX, "public and wire name limits differ");
_Static_assert(SHMBUF_READ == PROTO_ACQ_READ && SHMBUF_WRITE == PROTO_ACQ_WRITE, "acquire flags differ");
_Static_assert(SHMBUF_COMM_MAX == PROTO_COMM_MAX, "public and wire command name limits differ");
_Static_assert((int)SHMBUF_EVENT_SEGMENT_CREATED == (int)PROTO_EV_SEGMENT_CREATED &&
	       (int)SHMBUF_EVENT_LEASE_ACQUIRED == (int)PROTO_EV_LEASE_ACQUIRED &&
	       (int)SHMBUF_EVENT_CLIENT_DISCONNECTED == (int)PROTO_EV_CLIENT_DISCONNECTED &&
	       (int)PROTO_EV_TYPE_MAX == (int)SHMBUF_EVENT_CLIENT_DISCONNECTED, "public and wire event types differ");
_Static_assert(sizeof(((shmbuf_server_status *)0)->version) == PROTO_VERSION_STR_MAX + 1 &&
	       sizeof(((shmbuf_server_status *)0)->socket_path) == PROTO_NAME_MAX + 1,
	       "public and wire status string limits differ");

/* Largest request we encode: an ACQUIRE with a 255-byte name is 297 bytes. */
#define REQUEST_MAX 512

/* Events held for shmbuf_next_event() at most; past this the oldest go. A
 * subscriber that reads this far behind has lost track anyway, and the
 * library must not grow without bound for it. */
#define EVENT_QUEUE_MAX 4096

/* ---- idmap: u64 key -> (pointer, length), open addressing ----
 *
 * Holds the pending calls (by seq) and the live views (by lease id), so that
 * neither a reply nor a release scans a list. Linear probing with
 * backward-shift deletion (no tombstones); at most half full, so a probe
 * always meets an empty slot. */

struct idmap_slot {
	uint64_t key;
	void *ptr;
	size_t len;
	bool used;
};

struct idmap {
	struct idmap_slot *slots; /* NULL until the first insert; owned */
	size_t mask;              /* capacity - 1; capacity is a power of two */
	size_t count;
};

static size_t idmap_home(const struct idmap *m, uint64_t key)
{
	/* splitmix64's finaliser: lease ids and seqs are sequential, spread them. */
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ull;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebull;
	key ^= key >> 31;
	return (size_t)key & m->mask;
}

static struct idmap_slot *idmap_find(const struct idmap *m, uint64_t key)
{
	if (!m->slots)
		return NULL;
	for (size_t i = idmap_home(m, key);; i = (i + 1) & m->mask) {
		if (!m->slots[i].used)
			return NULL;
		if (m->slots[i].key == key)
			return &m->slots[i];
	}
}

static void idmap_place(struct idmap *m, struct idmap_slot s)
{
	size_t i = idmap_home(m, s.key);

	while (m->slots[i].used)
		i = (i + 1) & m->mask;
	m->slots[i] = s;
}

/* Returns 0, -EEXIST when key is present, or -ENOMEM. */
static int idmap_insert(struct idmap *m, uint64_t key, void *ptr, size_t len)
{
	if (idmap_find(m, key))
		return -EEXIST;
	if (!m->slots || (m->count + 1) * 2 > m->mask + 1) {
		size_t cap = m->slots ? (m->mask + 1) * 2 : 16;
		struct idmap_slot *old = m->slots;
		size_t old_cap = m->slots ? m->mask + 1 : 0;

		m->slots = calloc(cap, sizeof(*m->slots));
		if (!m->slots) {
			m->slots = old;
			return -ENOMEM;
		}
		m->mask = cap - 1;
		for (size_t i = 0; i < old_cap; i++)
			if (old[i].used)
				idmap_place(m, old[i]);
		free(old);
	}
	idmap_place(m, (struct idmap_slot){ .key = key, .ptr = ptr, .len = len, .used = true });
	m->count++;
	return 0;
}

static void idmap_remove(struct idmap *m, struct idmap_slot *s)
{
	size_t hole = (size_t)(s - m->slots);

	/* Pull later members of the probe run back into the hole, unless that
	 * would move one in front of its home slot. */
	for (size_t j = (hole + 1) & m->mask; m->slots[j].used; j = (j + 1) & m->mask) {
		size_t home = idmap_home(m, m->slots[j].key);

		if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
			m->slots[hole] = m->slots[j];
			hole = j;
		}
	}
	m->slots[hole].used = false;
	m->count--;
}

static void idmap_deinit(struct idmap *m)
{
	free(m->slots);
	*m = (struct idmap){ 0 };
}

/* ---- the client ---- */

/* One request waiting for its reply. Lives on the calling thread's stack. It is
 * in client->pending from just before its request is sent until it is done, and
 * on the client->waiters list while its thread is in the wait loop. */
struct call {
	struct call *prev, *next; /* client->waiters */
	bool listed;              /* on client->waiters */
	bool done;                /* reply (or err) is final */
	int err;                  /* 0: reply holds the answer; else why none will come */
	int fd;                   /* fd of a successful ACQUIRE reply, else -1; owned */
	uint32_t seq;
	uint16_t reply_op;
	struct proto_msg reply;
	pthread_cond_t cond;      /* signalled when done, or when this thread should read */
};

/* Owned by the application from shmbuf_connect() to shmbuf_disconnect(). */
struct shmbuf_client {
	int sock;
	pid_t owner;               /* the process that connected: only it may make calls */
	uint64_t page_size;
	uint32_t max_message;      /* largest request the daemon takes; 0: unknown */
	pthread_mutex_t send_lock; /* one fdio_send at a time */
	pthread_mutex_t lock;      /* every field below except the reader's buffers */
	bool dead;                 /* the connection broke: every call fails with -ECONNRESET */
	bool reader_active;        /* some waiting thread is (about to be) in fdio_recv */
	uint32_t next_seq;
	struct idmap pending;      /* seq -> struct call */
	struct call *waiters;      /* calls whose threads are in the wait loop, oldest first */
	struct call *waiters_tail;
	struct idmap views;        /* lease id -> (map base, map length): live mappings */
	/* Events, oldest first: a ring of ev_cap slots (grown by doubling up to
	 * EVENT_QUEUE_MAX) holding ev_count events from ev_head on. Owned. */
	bool subscribed;
	shmbuf_event *events;
	size_t ev_cap, ev_head, ev_count;
	uint64_t ev_dropped;       /* events lost to a full queue: shmbuf_events_dropped() */
	unsigned ev_waiters;       /* threads asleep on ev_cond */
	pthread_cond_t ev_cond;    /* an event arrived, the reader role is free, or the connection broke */
	/* Owned by whichever thread is the reader. */
	uint8_t *rbuf;             /* PROTO_MAX_MESSAGE bytes */
	struct proto_msg rmsg;
};

/* The daemon's words for this thread's last failed call. */
static _Thread_local char last_detail[PROTO_ERRMSG_MAX + 1];

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

/* Called with c->lock held: queue an event for shmbuf_next_event(). */
static void event_push(struct shmbuf_client *c, const struct proto_event *e)
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
		.write = (e->flags & PROTO_LEASE_WRITE) != 0,
	};
	memcpy(ev->comm, e->comm, sizeof(ev->comm));
	memcpy(ev->segment, e->segment, sizeof(ev->segment));
	c->ev_count++;
	if (c->ev_waiters)
		pthread_cond_broadcast(&c->ev_cond);
}

/* Called with c->lock held by the thread giving up the reader role. */
static void reader_release(struct shmbuf_client *c)
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
	struct idmap_slot *s = idmap_find(&c->pending, call->seq);

	if (s)
		idmap_remove(&c->pending, s);
	call_finish(c, call, err);
}

/* Called with c->lock held. Nothing more can be read reliably: every pending
 * call fails now, every later one fails before sending. The socket stays open
 * (so the daemon keeps our leases, whose memory is still mapped here) until
 * shmbuf_disconnect(). */
static void client_break(struct shmbuf_client *c)
{
	c->dead = true;
	for (size_t i = 0; c->pending.slots && i <= c->pending.mask; i++) {
		if (c->pending.slots[i].used) {
			c->pending.slots[i].used = false;
			call_finish(c, c->pending.slots[i].ptr, -ECONNRESET);
		}
	}
	c->pending.count = 0;
	pthread_cond_broadcast(&c->ev_cond);
}

/* Called with c->lock held: answer every pending call with the connection-level
 * error reply err, then treat the connection as broken. */
static void client_fail_all(struct shmbuf_client *c, const struct proto_msg *err)
{
	for (size_t i = 0; c->pending.slots && i <= c->pending.mask; i++) {
		if (c->pending.slots[i].used) {
			struct call *call = c->pending.slots[i].ptr;

			c->pending.slots[i].used = false;
			call->reply = *err;
			call_finish(c, call, 0);
		}
	}
	c->pending.count = 0;
	c->dead = true;
	pthread_cond_broadcast(&c->ev_cond);
}

/* Called with c->lock held, as the reader; returns with it held. Receives one
 * datagram (without the lock) and hands it to the call it answers. */
static void client_read_one(struct shmbuf_client *c)
{
	struct idmap_slot *s;
	struct call *call;
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
	if (n <= 0 || r < 0 || !(c->rmsg.op & PROTO_REPLY_BIT))
		goto broken;
	if (c->rmsg.seq == 0 && c->rmsg.status != PROTO_OK) {
		/* seq 0: the daemon's last word on the whole connection (limit reached,
		 * malformed request, ...) before it closes it. Every pending call gets it. */
		if (fd >= 0)
			close(fd);
		client_fail_all(c, &c->rmsg);
		return;
	}
	if (c->rmsg.seq == 0 && c->rmsg.op == (PROTO_OP_EVENT | PROTO_REPLY_BIT)) {
		/* Unasked news for a subscriber (status is PROTO_OK here). */
		if (fd >= 0)
			close(fd);
		event_push(c, &c->rmsg.u.event);
		return;
	}
	s = idmap_find(&c->pending, c->rmsg.seq);
	if (!s) {
		/* No one asked: drop it, and any fd it carried. */
		if (fd >= 0)
			close(fd);
		return;
	}
	call = s->ptr;
	/* An error reply has the same layout for every opcode; a success reply
	 * must answer the request actually made, or its payload means nothing. */
	if (c->rmsg.status == PROTO_OK && c->rmsg.op != call->reply_op)
		goto broken;
	if (fd >= 0 && !(c->rmsg.status == PROTO_OK && c->rmsg.op == (PROTO_OP_ACQUIRE | PROTO_REPLY_BIT))) {
		close(fd);
		fd = -1;
	}
	idmap_remove(&c->pending, s);
	call->reply = c->rmsg;
	call->fd = fd;
	call_finish(c, call, 0);
	return;

broken:
	if (fd >= 0)
		close(fd);
	client_break(c);
}

/* Called with c->lock held: a fresh seq, never 0 and never one still pending. */
static uint32_t client_next_seq(struct shmbuf_client *c)
{
	uint32_t seq;

	do
		seq = c->next_seq++;
	while (seq == 0 || idmap_find(&c->pending, seq));
	return seq;
}

/* Sends request m and waits for its reply, which replaces *m. Returns 0 when a
 * reply arrived (its status may still be an error), or a negative errno when
 * none will: the request was invalid, could not be sent, or the connection broke.
 * fd_out, when not NULL, receives the fd of a successful ACQUIRE reply (or -1).
 *
 * Leader/follower: the waiting thread that finds no reader becomes it, reads
 * replies for everybody until its own arrives, then passes the role on to the
 * oldest other waiter. So a long-blocked ACQUIRE never holds up other calls. */
/* A client inherited across fork() shares its socket and its seq numbers with
 * the parent: any request from the child would steal or confuse the parent's
 * replies, or end the parent's leases. Such a client may only be disconnected. */
static int check_owner(const struct shmbuf_client *c)
{
	if (c->owner == getpid())
		return 0;
	snprintf(last_detail, sizeof(last_detail),
		 "this client was connected by process %d; after fork() connect a new one", (int)c->owner);
	return -ECONNRESET;
}

static int client_call(struct shmbuf_client *c, struct proto_msg *m, int *fd_out)
{
	uint8_t buf[REQUEST_MAX];
	struct call call = { .fd = -1 };
	int n, r;

	if (fd_out)
		*fd_out = -1;
	r = check_owner(c);
	if (r < 0)
		return r;
	m->status = PROTO_OK;
	if (pthread_cond_init(&call.cond, NULL) != 0)
		return -ENOMEM;

	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		r = -ECONNRESET;
		goto out_locked;
	}
	call.seq = m->seq = client_next_seq(c);
	call.reply_op = (uint16_t)(m->op | PROTO_REPLY_BIT);
	n = proto_encode(m, buf, sizeof(buf));
	if (n < 0) {
		r = n;
		goto out_locked;
	}
	if (c->max_message && (uint32_t)n > c->max_message) {
		r = -EMSGSIZE;
		goto out_locked;
	}
	/* Registered before sending: the reply may be read by another thread
	 * before fdio_send even returns here. */
	r = idmap_insert(&c->pending, call.seq, &call, 0);
	if (r < 0)
		goto out_locked;
	pthread_mutex_unlock(&c->lock);

	pthread_mutex_lock(&c->send_lock);
	do
		r = fdio_send(c->sock, buf, (size_t)n, -1);
	while (r == -EINTR);
	pthread_mutex_unlock(&c->send_lock);

	pthread_mutex_lock(&c->lock);
	/* Unless the connection broke meanwhile (and the call is done already),
	 * a failed send finishes the call with that error. */
	if (r < 0 && !call.done && r != -EPIPE && r != -ECONNRESET && r != -ENOTCONN)
		call_forget(c, &call, r);
	/* A closed peer may have left its reason queued (a seq-0 error such as
	 * "connection limit reached"): the call stays pending, and reading finds
	 * that reason or end-of-file, which breaks the connection. */
	if (!call.done)
		waiters_push(c, &call);
	while (!call.done) {
		if (c->reader_active) {
			pthread_cond_wait(&call.cond, &c->lock);
			continue;
		}
		c->reader_active = true;
		while (!call.done)
			client_read_one(c);
		reader_release(c);
	}
	r = call.err;
	if (r == 0) {
		*m = call.reply;
		if (fd_out)
			*fd_out = call.fd;
		else if (call.fd >= 0)
			close(call.fd);
	}

out_locked:
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&call.cond);
	return r;
}

/* 0 for a success reply; else keeps the daemon's message for
 * shmbuf_last_error_detail() and returns the status as a negative errno. */
static int reply_result(const struct proto_msg *m)
{
	if (m->status == PROTO_OK)
		return 0;
	memcpy(last_detail, m->u.error.message, sizeof(last_detail));
	last_detail[sizeof(last_detail) - 1] = '\0';
	return proto_status_to_errno(m->status);
}

/* Copies name into a wire name field; proto_encode() checks its characters. */
static int copy_name(char dst[PROTO_NAME_MAX + 1], const char *name)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strnlen(name, PROTO_NAME_MAX + 1);
	if (len > PROTO_NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(dst, name, len + 1);
	return 0;
}

static void client_free(struct shmbuf_client *c)
{
	if (c->sock >= 0)
		close(c->sock);
	for (size_t i = 0; c->views.slots && i <= c->views.mask; i++)
		if (c->views.slots[i].used)
			munmap(c->views.slots[i].ptr, c->views.slots[i].len);
	idmap_deinit(&c->views);
	idmap_deinit(&c->pending);
	free(c->events);
	pthread_cond_destroy(&c->ev_cond);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->send_lock);
	free(c->rbuf);
	free(c);
}

static bool getenv_nonempty(const char *name)
{
	const char *v = secure_getenv(name);

	return v && *v;
}

/* Linux leaves an AF_UNIX socket unconnected when connect() is interrupted
 * (nothing goes on in the background, unlike TCP), so simply try again. */
static int connect_unix(int sock, const struct sockaddr_un *sa)
{
	while (connect(sock, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Event waits have deadlines: measure them on the clock that never jumps. */
static int cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int r;

	if (pthread_condattr_init(&attr) != 0)
		return -ENOMEM;
	r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return r == 0 ? 0 : -ENOMEM;
}

static int client_hello(struct shmbuf_client *c)
{
	struct proto_msg m = { .op = PROTO_OP_HELLO };
	int r;

	m.u.hello.magic = PROTO_MAGIC;
	m.u.hello.min_version = PROTO_VERSION;
	m.u.hello.max_version = PROTO_VERSION;
	r = client_call(c, &m, NULL);
	if (r < 0)
		return r;
	r = reply_result(&m);
	if (r < 0)
		return r;
	if (m.u.hello_reply.version != PROTO_VERSION)
		return -EPROTONOSUPPORT;
	c->max_message = m.u.hello_reply.max_message;
	return 0;
}

int shmbuf_connect(const char *socket_path, shmbuf_client **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct shmbuf_client *c;
	long page;
	int r;

	last_detail[0] = '\0';
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (socket_path) {
		size_t len = strlen(socket_path);

		if (len == 0)
			return -EINVAL;
		if (len >= sizeof(sa.sun_path))
			return -ENAMETOOLONG;
		memcpy(sa.sun_path, socket_path, len + 1);
	} else {
		r = proto_default_socket_path(sa.sun_path, sizeof(sa.sun_path));
		if (r < 0)
			return r;
	}
	page = sysconf(_SC_PAGESIZE);
	if (page <= 0 || (page & (page - 1)))
		return -EIO;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->sock = -1;
	c->page_size = (uint64_t)page;
	c->owner = getpid();
	c->next_seq = 1;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return -ENOMEM;
	}
	if (pthread_mutex_init(&c->send_lock, NULL) != 0) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return -ENOMEM;
	}
	if (cond_init_monotonic(&c->ev_cond) != 0) {
		pthread_mutex_destroy(&c->send_lock);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return -ENOMEM;
	}
	/* From here on client_free() undoes everything. */
	c->rbuf = malloc(PROTO_MAX_MESSAGE);
	if (!c->rbuf) {
		r = -ENOMEM;
		goto fail;
	}
	c->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->sock < 0) {
		r = -errno;
		goto fail;
	}
	r = connect_unix(c->sock, &sa);
	if ((r == -ENOENT || r == -ECONNREFUSED) && !socket_path && strcmp(sa.sun_path, SHMBUF_SYSTEM_SOCKET) != 0 &&
	    !getenv_nonempty("SHMBUF_SOCKET")) {
		/* No per-user daemon: the system service is the next place to look. */
		memcpy(sa.sun_path, SHMBUF_SYSTEM_SOCKET, sizeof(SHMBUF_SYSTEM_SOCKET));
		if (connect_unix(c->sock, &sa) == 0)
			r = 0;
	}
	if (r < 0)
		goto fail;
	r = client_hello(c);
	if (r < 0)
		goto fail;
	*out = c;
	return 0;

fail:
	client_free(c);
	return r;
}

void shmbuf_disconnect(shmbuf_client *c)
{
	if (c)
		client_free(c);
}

/* CREATE, DESTROY, RESIZE and STAT: a name and maybe a size and mode. m->op is set. */
static int segment_call(shmbuf_client *c, struct proto_msg *m, const char *name)
{
	int r;

	if (!c)
		return -EINVAL;
	r = copy_name(m->u.segment.name, name);
	if (r < 0)
		return r;
	r = client_call(c, m, NULL);
	if (r < 0)
		return r;
	return reply_result(m);
}

int shmbuf_create(shmbuf_client *c, const char *name, uint64_t size, unsigned mode)
{
	struct proto_msg m = { .op = PROTO_OP_CREATE };

	last_detail[0] = '\0';
	if (size == 0 || mode > 0777)
		return -EINVAL;
	m.u.segment.size = size;
	m.u.segment.mode = mode;
	return segment_call(c, &m, name);
}

int shmbuf_destroy(shmbuf_client *c, const char *name)
{
	struct proto_msg m = { .op = PROTO_OP_DESTROY };

	last_detail[0] = '\0';
	return segment_call(c, &m, name);
}

int shmbuf_resize(shmbuf_client *c, const char *name, uint64_t size)
{
	struct proto_msg m = { .op = PROTO_OP_RESIZE };

	last_detail[0] = '\0';
	m.u.segment.size = size;
	return segment_call(c, &m, name);
}

int shmbuf_stat(shmbuf_client *c, const char *name, shmbuf_stat_info *out)
{
	struct proto_msg m = { .op = PROTO_OP_STAT };
	int r;

	last_detail[0] = '\0';
	if (!out)
		return -EINVAL;
	r = segment_call(c, &m, name);
	if (r < 0)
		return r;
	*out = (shmbuf_stat_info){
		.size = m.u.stat_reply.size,
		.mode = m.u.stat_reply.mode,
		.uid = (uid_t)m.u.stat_reply.uid,
		.gid = (gid_t)m.u.stat_reply.gid,
		.read_leases = m.u.stat_reply.read_leases,
		.write_leases = m.u.stat_reply.write_leases,
		.waiters = m.u.stat_reply.waiters,
	};
	return 0;
}

/* Ends a lease this call could not hand to the application. Its outcome
 * changes nothing for the caller, who already has an error to report. */
static void release_lease(shmbuf_client *c, uint64_t lease_id)
{
	struct proto_msg m = { .op = PROTO_OP_RELEASE };

	m.u.release.lease_id = lease_id;
	(void)client_call(c, &m, NULL);
}

/* Checks the grant a against the request, maps it and records the mapping.
 * Consumes fd. Returns 0, or a negative errno with nothing mapped. */
static int view_map(shmbuf_client *c, const struct proto_acquire_reply *a, uint64_t offset, uint64_t length,
		    unsigned flags, int fd, shmbuf_view *out)
{
	uint64_t end, map_off, map_len;
	void *base;
	int r;

	if (fd == FDIO_FD_LOST)
		return -EMFILE; /* granted, but this process had no room for the fd */
	if (fd < 0)
		return -EIO;
	if (a->offset != offset || a->length == 0 || (length && a->length != length) || a->flags != flags ||
	    __builtin_add_overflow(a->offset, a->length, &end) || end > a->segment_size) {
		r = -EPROTO;
		goto fail;
	}
	/* mmap wants a page-aligned file offset: map from the page holding the
	 * first byte. end did not overflow, so neither does map_len. */
	map_off = a->offset & ~(c->page_size - 1);
	map_len = end - map_off;
#if SIZE_MAX < UINT64_MAX
	if (map_len > SIZE_MAX) {
		r = -EOVERFLOW;
		goto fail;
	}
#endif
	if (map_off > (uint64_t)INT64_MAX) {
		r = -EOVERFLOW;
		goto fail;
	}
	base = mmap(NULL, (size_t)map_len, flags == SHMBUF_READ ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, (off_t)map_off);
	r = base == MAP_FAILED ? -errno : 0;
	close(fd); /* the mapping keeps the memory */
	if (r < 0)
		return r;

	pthread_mutex_lock(&c->lock);
	r = idmap_insert(&c->views, a->lease_id, base, (size_t)map_len);
	pthread_mutex_unlock(&c->lock);
	if (r < 0) {
		munmap(base, (size_t)map_len);
		return r;
	}
	*out = (shmbuf_view){
		.data = (uint8_t *)base + (a->offset - map_off),
		.len = (size_t)a->length,
		.offset = a->offset,
		.readonly = flags == SHMBUF_READ,
		.lease_id = a->lease_id,
	};
	return 0;

fail:
	close(fd);
	return r;
}

int shmbuf_acquire(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length, unsigned flags,
		   int timeout_ms, shmbuf_view *out)
{
	struct proto_msg m = { .op = PROTO_OP_ACQUIRE };
	struct proto_acquire_reply a;
	int fd, r;

	last_detail[0] = '\0';
	if (!c || !out || (flags != SHMBUF_READ && flags != SHMBUF_WRITE) || timeout_ms < -1)
		return -EINVAL;
	r = copy_name(m.u.acquire.name, name);
	if (r < 0)
		return r;
	m.u.acquire.offset = offset;
	m.u.acquire.length = length;
	m.u.acquire.flags = flags;
	m.u.acquire.timeout_ms = timeout_ms;
	r = client_call(c, &m, &fd);
	if (r < 0)
		return r;
	r = reply_result(&m);
	if (r < 0)
		return r;

	a = m.u.acquire_reply;
	r = view_map(c, &a, offset, length, flags, fd, out);
	if (r == -EEXIST) {
		/* The daemon reused the id of a lease we hold: releasing it would
		 * end the wrong lease. Leave both to the disconnect. */
		return -EPROTO;
	}
	if (r < 0) {
		/* Never leak a lease the application cannot see. */
		release_lease(c, a.lease_id);
		return r;
	}
	return 0;
}

int shmbuf_release(shmbuf_client *c, shmbuf_view *v)
{
	struct proto_msg m = { .op = PROTO_OP_RELEASE };
	struct idmap_slot *s;
	void *base = NULL;
	size_t len = 0;
	int r;

	last_detail[0] = '\0';
	if (!c || !v)
		return -EINVAL;
	r = check_owner(c);
	if (r < 0)
		return r; /* the view stays mapped here; the parent's lease stays its own */
	/* Taking the entry out under the lock makes a second (or concurrent)
	 * release of the same view find nothing: never a double munmap. */
	pthread_mutex_lock(&c->lock);
	s = idmap_find(&c->views, v->lease_id);
	/* A view from another client (of another daemon, whose ids may collide)
	 * does not point into our mapping: it is not ours to unmap. */
	if (s && ((uintptr_t)v->data < (uintptr_t)s->ptr || (uintptr_t)v->data - (uintptr_t)s->ptr >= s->len))
		s = NULL;
	if (s) {
		base = s->ptr;
		len = s->len;
		idmap_remove(&c->views, s);
	}
	pthread_mutex_unlock(&c->lock);
	if (!s)
		return -ENOENT;

	/* Unmap first: once the daemon has the RELEASE it may grant the range
	 * to a writer, and this process must no longer reach it. */
	munmap(base, len);
	m.u.release.lease_id = v->lease_id;
	memset(v, 0, sizeof(*v));
	r = client_call(c, &m, NULL);
	if (r < 0)
		return r;
	return reply_result(&m);
}

/* ---- introspection ---- */

int shmbuf_server_status_get(shmbuf_client *c, shmbuf_server_status *out)
{
	struct proto_msg m = { .op = PROTO_OP_STATUS };
	const struct proto_status_reply *s = &m.u.status_reply;
	int r;

	last_detail[0] = '\0';
	if (!c || !out)
		return -EINVAL;
	r = client_call(c, &m, NULL);
	if (r < 0)
		return r;
	r = reply_result(&m);
	if (r < 0)
		return r;
	*out = (shmbuf_server_status){
		.pid = (pid_t)s->server_pid,
		.started_ns = s->started_ns,
		.uptime_ns = s->uptime_ns,
		.bytes = s->bytes,
		.max_bytes = s->max_bytes,
		.segments = s->segments,
		.max_segments = s->max_segments,
		.clients = s->clients,
		.max_clients = s->max_clients,
		.read_leases = s->read_leases,
		.write_leases = s->write_leases,
		.waiters = s->waiters,
	};
	memcpy(out->version, s->server_version, sizeof(out->version));
	memcpy(out->socket_path, s->socket_path, sizeof(out->socket_path));
	return 0;
}

/* Fills public entry dst from entry i of a LIST_* reply page. */
typedef void list_convert_fn(const struct proto_list_reply *page, uint32_t i, void *dst);

static void segment_from_wire(const struct proto_list_reply *page, uint32_t i, void *dst)
{
	const struct proto_segment_entry *e = &page->e.segments[i];
	shmbuf_segment_info *s = dst;

	*s = (shmbuf_segment_info){
		.id = e->id,
		.size = e->size,
		.created_ns = e->created_ns,
		.mode = e->mode,
		.uid = (uid_t)e->uid,
		.gid = (gid_t)e->gid,
		.pid = (pid_t)e->pid,
		.read_leases = e->read_leases,
		.write_leases = e->write_leases,
		.waiters = e->waiters,
		.destroyed = (e->flags & PROTO_SEG_DESTROYED) != 0,
	};
	memcpy(s->name, e->name, sizeof(s->name));
}

static void lease_from_wire(const struct proto_list_reply *page, uint32_t i, void *dst)
{
	const struct proto_lease_entry *e = &page->e.leases[i];
	shmbuf_lease_info *l = dst;

	*l = (shmbuf_lease_info){
		.lease_id = e->id,
		.client_id = e->client_id,
		.segment_destroyed = (e->segment_flags & PROTO_SEG_DESTROYED) != 0,
		.offset = e->offset,
		.length = e->length,
		.write = (e->flags & PROTO_LEASE_WRITE) != 0,
		.waiting = (e->flags & PROTO_LEASE_WAITING) != 0,
		.age_ns = e->age_ns,
		.pid = (pid_t)e->pid,
		.uid = (uid_t)e->uid,
	};
	memcpy(l->segment, e->segment, sizeof(l->segment));
	memcpy(l->comm, e->comm, sizeof(l->comm));
}

static void client_from_wire(const struct proto_list_reply *page, uint32_t i, void *dst)
{
	const struct proto_client_entry *e = &page->e.clients[i];
	shmbuf_client_info *k = dst;

	*k = (shmbuf_client_info){
		.client_id = e->id,
		.pid = (pid_t)e->pid,
		.uid = (uid_t)e->uid,
		.gid = (gid_t)e->gid,
		.leases = e->leases,
		.waiting = e->waiting,
		.age_ns = e->age_ns,
		.self = (e->flags & PROTO_CLIENT_SELF) != 0,
		.subscribed = (e->flags & PROTO_CLIENT_SUBSCRIBED) != 0,
	};
	memcpy(k->comm, e->comm, sizeof(k->comm));
}

/* Fetches a whole listing (LIST_* op, filter name or "") page by page into a
 * malloc'ed array of elem_size-byte entries. */
static int list_all(shmbuf_client *c, uint16_t op, const char *name, size_t elem_size, list_convert_fn *convert,
		    void **out, size_t *count)
{
	struct proto_msg m;
	char filter[PROTO_NAME_MAX + 1];
	uint8_t *arr = NULL;
	size_t n = 0, cap = 0;
	uint64_t cursor = 0;
	int r;

	last_detail[0] = '\0';
	if (!c || !out || !count)
		return -EINVAL;
	*out = NULL;
	*count = 0;
	r = copy_name(filter, name);
	if (r < 0)
		return r;
	for (;;) {
		const struct proto_list_reply *page = &m.u.list_reply;

		m = (struct proto_msg){ .op = op };
		m.u.list.cursor = cursor;
		memcpy(m.u.list.name, filter, sizeof(filter));
		r = client_call(c, &m, NULL);
		if (r < 0)
			goto fail;
		r = reply_result(&m);
		if (r < 0)
			goto fail;
		if (page->count > PROTO_LIST_PAGE) {
			r = -EPROTO;
			goto fail;
		}
		if (n + page->count > cap) {
			size_t new_cap = cap ? cap * 2 : 64;
			uint8_t *grown;

			if (new_cap > SIZE_MAX / elem_size) {
				r = -ENOMEM;
				goto fail;
			}
			grown = realloc(arr, new_cap * elem_size);
			if (!grown) {
				r = -ENOMEM;
				goto fail;
			}
			arr = grown;
			cap = new_cap;
		}
		for (uint32_t i = 0; i < page->count; i++)
			convert(page, i, arr + (n + i) * elem_size);
		n += page->count;
		if (page->next_cursor == 0)
			break;
		/* Cursors only move forward; one that does not would page forever. */
		if (page->next_cursor <= cursor) {
			r = -EPROTO;
			goto fail;
		}
		cursor = page->next_cursor;
	}
	*out = arr;
	*count = n;
	return 0;

fail:
	free(arr);
	return r;
}

int shmbuf_list_segments(shmbuf_client *c, shmbuf_segment_info **out, size_t *count)
{
	return list_all(c, PROTO_OP_LIST_SEGMENTS, "", sizeof(**out), segment_from_wire, (void **)out, count);
}

int shmbuf_list_leases(shmbuf_client *c, const char *name, shmbuf_lease_info **out, size_t *count)
{
	return list_all(c, PROTO_OP_LIST_LEASES, name ? name : "", sizeof(**out), lease_from_wire, (void **)out,
			count);
}

int shmbuf_list_clients(shmbuf_client *c, shmbuf_client_info **out, size_t *count)
{
	return list_all(c, PROTO_OP_LIST_CLIENTS, "", sizeof(**out), client_from_wire, (void **)out, count);
}

void shmbuf_free(void *p)
{
	free(p);
}

/* ---- events ---- */

int shmbuf_subscribe(shmbuf_client *c)
{
	struct proto_msg m = { .op = PROTO_OP_SUBSCRIBE };
	int r;

	last_detail[0] = '\0';
	if (!c)
		return -EINVAL;
	r = client_call(c, &m, NULL);
	if (r < 0)
		return r;
	r = reply_result(&m);
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

int shmbuf_next_event(shmbuf_client *c, shmbuf_event *out, int timeout_ms)
{
	struct timespec deadline = { 0 };
	int r;

	last_detail[0] = '\0';
	if (!c || !out || timeout_ms < -1)
		return -EINVAL;
	r = check_owner(c);
	if (r < 0)
		return r;
	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
	}

	pthread_mutex_lock(&c->lock);
	if (!c->subscribed) {
		r = -EINVAL;
		goto out;
	}
	for (;;) {
		int left;
		bool readable;

		if (c->ev_count) {
			*out = c->events[c->ev_head];
			c->ev_head = (c->ev_head + 1) & (c->ev_cap - 1);
			c->ev_count--;
			r = 0;
			break;
		}
		if (c->dead) {
			r = -ECONNRESET;
			break;
		}
		left = ms_left(timeout_ms, &deadline);
		if (c->reader_active) {
			/* Another thread reads: it wakes us for each event, and
			 * when it gives the reader role up. */
			if (left == 0) {
				r = -ETIMEDOUT;
				break;
			}
			c->ev_waiters++;
			if (left < 0)
				pthread_cond_wait(&c->ev_cond, &c->lock);
			else
				pthread_cond_timedwait(&c->ev_cond, &c->lock, &deadline);
			c->ev_waiters--;
			continue;
		}
		/* Nobody reads: this thread does, one datagram at a time, and
		 * polls first so as never to block in recv past the deadline.
		 * What it reads may as well be another thread's reply. */
		c->reader_active = true;
		readable = client_wait_readable(c, timeout_ms, &deadline);
		if (readable)
			client_read_one(c);
		reader_release(c);
		if (!readable) {
			r = -ETIMEDOUT;
			break;
		}
	}
out:
	pthread_mutex_unlock(&c->lock);
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

const char *shmbuf_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EPERM:
		return "operation not permitted";
	case -ENOENT:
		return "no such segment or lease (or no daemon at the socket path)";
	case -EMFILE:
		return "this process has no file descriptor free for the segment";
	case -EIO:
		return "shmbufd failed internally, or granted a lease without its memory";
	case -ENOMEM:
		return "out of memory";
	case -EACCES:
		return "permission denied (segment mode, or the socket's permissions)";
	case -EBUSY:
		return "range is leased by someone else (conflicting lease or waiters ahead)";
	case -EEXIST:
		return "a segment with that name exists";
	case -EINVAL:
		return "invalid argument (name, size, mode, flags or timeout)";
	case -ENOSPC:
		return "no space: the daemon's byte limit or shared memory is exhausted";
	case -ERANGE:
		return "range lies outside the segment or overflows";
	case -EDQUOT:
		return "a daemon limit was reached (segments, leases or connections)";
	case -ENAMETOOLONG:
		return "name too long (segment names are at most 255 bytes; or the socket path is too long)";
	case -EPROTO:
		return "protocol error between libshmbuf and shmbufd";
	case -EBADMSG:
		return "malformed message (shmbufd refused what it received)";
	case -EOVERFLOW:
		return "range too large to map in this process";
	case -EMSGSIZE:
		return "request larger than shmbufd accepts";
	case -EPROTONOSUPPORT:
		return "shmbufd speaks no common protocol version";
	case -EOPNOTSUPP:
		return "operation not supported by this shmbufd";
	case -ECONNRESET:
		return "connection to shmbufd lost";
	case -ECONNREFUSED:
		return "no shmbufd listening at the socket path";
	case -ETIMEDOUT:
		return "timed out (waiting for a lease, or for an event)";
	}
	if (err == INT_MIN)
		return "unknown error";
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	{
		/* Static text, unlike strerror(), which may use a shared buffer. */
		const char *s = strerrordesc_np(err < 0 ? -err : err);

		return s ? s : "unknown error";
	}
#else
	{
		static _Thread_local char buf[128];

		if (strerror_r(err < 0 ? -err : err, buf, sizeof(buf)) != 0)
			return "unknown error";
		return buf;
	}
#endif
}

const char *shmbuf_last_error_detail(void)
{
	return last_detail;
}

const char *shmbuf_version(void)
{
	return SHMBUF_VERSION_STRING;
}
