/* request.c: one handler per opcode, and the life of a grant (a lease held or waited for). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

#define grant_of(l) ((struct grant *)((char *)(l) - offsetof(struct grant, lease)))

static void grant_remove(struct server *srv, struct grant *g);

void reply_error(struct conn *c, const struct proto_msg *req, enum proto_status st, const char *fmt, ...)
{
	char text[PROTO_ERRMSG_MAX + 1];
	struct proto_msg rep;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_debug("client %d (%s): %s failed: %s: %s", (int)c->cred.pid, c->comm, proto_op_name(req->op),
		  proto_status_name(st), text);
	proto_make_error(&rep, req, st, text);
	conn_send(c, &rep, -1);
}

void reply_ok(struct conn *c, const struct proto_msg *req)
{
	struct proto_msg rep = { .op = req->op | PROTO_REPLY_BIT, .seq = req->seq };

	conn_send(c, &rep, -1);
}

/* ---- grants ---------------------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

static void grant_free(struct grant *g)
{
	if (g->has_timer)
		uv_close((uv_handle_t *)&g->timer, on_timer_closed); /* frees g */
	else
		free(g);
}

/* The kernel would not pass a grant's fd (ETOOMANYREFS: too many of our fds
 * sit unread in other clients' sockets): answer LIMIT instead. Logged at most
 * once a second, since it comes in waves. */
static void answer_fd_refused(struct conn *c, uint32_t seq)
{
	struct proto_msg req = { .op = PROTO_OP_ACQUIRE, .seq = seq };
	uint64_t now = server_now_ns();

	if (now - c->srv->fd_refused_logged_ns > 1000000000u) {
		log_warn("cannot pass a descriptor to client %d (%s): too many are unread by other clients",
			 (int)c->cred.pid, c->comm);
		c->srv->fd_refused_logged_ns = now;
	}
	reply_error(c, &req, PROTO_E_LIMIT,
		    "shmbufd has too many descriptors in flight to clients that do not read them; try again");
}

void request_fd_refused(struct conn *c, uint64_t lease_id, uint32_t seq)
{
	struct server *srv = c->srv;
	struct grant *g = NULL;
	struct segment *seg;

	answer_fd_refused(c, seq);
	HASH_FIND(hh, srv->grants, &lease_id, sizeof(lease_id), g);
	if (!g || g->conn != c)
		return;
	seg = g->seg;
	grant_remove(srv, g);
	segment_settle_later(srv, seg);
}

/* Returns false when the kernel would not pass the fd now; the ACQUIRE is
 * then answered with LIMIT instead, and the caller must end the grant. */
static bool send_granted(struct grant *g)
{
	struct proto_msg rep = { .op = PROTO_OP_ACQUIRE | PROTO_REPLY_BIT, .seq = g->seq };
	struct segment *seg = g->seg;

	rep.u.acquire_reply.lease_id = g->id;
	rep.u.acquire_reply.offset = g->lease.offset;
	rep.u.acquire_reply.length = g->lease.length;
	rep.u.acquire_reply.segment_size = seg->size;
	rep.u.acquire_reply.flags = g->lease.write ? PROTO_ACQ_WRITE : PROTO_ACQ_READ;
	if (conn_send(g->conn, &rep, g->lease.write ? seg->fd_rw : seg->fd_ro) != -ETOOMANYREFS)
		return true;
	answer_fd_refused(g->conn, g->seq);
	return false;
}

static void on_promoted(struct lease *l, void *ctx)
{
	struct grant *g = grant_of(l);

	if (g->has_timer)
		uv_timer_stop(&g->timer);
	g->conn->n_waiting--;
	g->since_ns = server_now_ns();
	event_lease(g->conn->srv, PROTO_EV_LEASE_ACQUIRED, g);
	/* The set may not change during the walk: end the grant right after it. */
	if (!send_granted(g))
		TAILQ_INSERT_TAIL(&g->conn->srv->revoked, g, revoke_link);
}

/* A writable fd lets its holder ftruncate the object; put the size back. */
static void check_size_after_write(struct segment *seg, const struct conn *c)
{
	uint64_t found;
	int r = segment_restore_size(seg, &found);

	if (r == 1)
		log_warn("client %d (%s, uid %d) changed segment '%s' (%" PRIu64 " bytes; found %" PRIu64
			 ", or memory allocated past its end) through its writable fd; restored",
			 (int)c->cred.pid, c->comm, (int)c->cred.uid, seg->name, seg->size, found);
	else if (r < 0)
		log_err("cannot check the size of segment '%s': %s", seg->name, strerror(-r));
}

/* Unlink g from everything and free it. The caller settles g's segment after. */
static void grant_remove(struct server *srv, struct grant *g)
{
	struct conn *c = g->conn;
	bool held_write = g->lease.state == LEASE_GRANTED && g->lease.write;

	event_lease(srv, g->lease.state == LEASE_GRANTED ? PROTO_EV_LEASE_RELEASED : PROTO_EV_LEASE_CANCELLED, g);
	if (g->lease.state == LEASE_WAITING)
		c->n_waiting--;
	lease_set_remove(&g->seg->leases, &g->lease);
	TAILQ_REMOVE(&c->grants, g, conn_link);
	TAILQ_REMOVE(&srv->all_grants, g, order_link);
	c->n_grants--;
	HASH_DEL(srv->grants, g);
	/* While growing, our own reservation lies past the end: check next time. */
	if (held_write && !g->seg->destroyed && !g->seg->growing)
		check_size_after_write(g->seg, c);
	g->seg->refs--;
	grant_free(g);
}

/* The memory of a destroyed segment goes when nothing refers to it any more. */
static void free_destroyed(struct server *srv, struct segment *seg)
{
	log_debug("segment '%s' (%s): last lease gone, memory freed", seg->name, seg->shm_name);
	event_segment(srv, PROTO_EV_SEGMENT_FREED, seg, NULL);
	if (seg->unsettled)
		TAILQ_REMOVE(&srv->unsettled, seg, unsettled_link);
	srv->bytes -= seg->size;
	srv->n_segments--;
	TAILQ_REMOVE(&srv->all_segments, seg, order_link);
	segment_free(seg);
}

void segment_settle_later(struct server *srv, struct segment *seg)
{
	/* A destroyed segment has no waiters to reconsider: its memory goes now,
	 * so the next request already sees the bytes and the slot free. */
	if (seg->destroyed && seg->refs == 0) {
		free_destroyed(srv, seg);
		return;
	}
	if (seg->unsettled)
		return;
	seg->unsettled = true;
	TAILQ_INSERT_TAIL(&srv->unsettled, seg, unsettled_link);
	server_schedule_reap(srv);
}

void server_settle_segments(struct server *srv)
{
	struct segment *seg;
	struct grant *g;

	while ((seg = TAILQ_FIRST(&srv->unsettled))) {
		bool revoked = false;

		TAILQ_REMOVE(&srv->unsettled, seg, unsettled_link);
		seg->unsettled = false;
		if (!srv->stopping)
			lease_set_promote(&seg->leases, on_promoted, srv);
		while ((g = TAILQ_FIRST(&srv->revoked))) {
			TAILQ_REMOVE(&srv->revoked, g, revoke_link);
			grant_remove(srv, g);
			revoked = true;
		}
		/* A revoked grant's range is free again: walk once more (each walk
		 * ends at least one wait, so this stops). */
		if (revoked || (seg->destroyed && seg->refs == 0))
			segment_settle_later(srv, seg);
	}
}

/* Fail seg's waiters: all of them (NOENT, destroyed), or those that reach past size (RANGE, shrunk). */
static void fail_waiters(struct server *srv, struct segment *seg, uint64_t size, enum proto_status st)
{
	struct lease *l, *next;

	for (l = TAILQ_FIRST(&seg->leases.waiting); l; l = next) {
		struct grant *g = grant_of(l);
		struct proto_msg req = { .op = PROTO_OP_ACQUIRE, .seq = g->seq };

		next = TAILQ_NEXT(l, link);
		if (st == PROTO_E_RANGE && l->offset + l->length <= size)
			continue;
		if (st == PROTO_E_NOENT)
			reply_error(g->conn, &req, st, "segment '%s' was destroyed while waiting", seg->name);
		else
			reply_error(g->conn, &req, st, "segment '%s' shrank to %" PRIu64 " bytes while waiting",
				    seg->name, size);
		grant_remove(srv, g);
	}
}

static void on_wait_timeout(uv_timer_t *t)
{
	struct grant *g = t->data;
	struct segment *seg = g->seg;
	struct server *srv = g->conn->srv;
	struct proto_msg req = { .op = PROTO_OP_ACQUIRE, .seq = g->seq };

	reply_error(g->conn, &req, PROTO_E_TIMEDOUT, "timed out waiting for a lease on '%s'", seg->name);
	grant_remove(srv, g);
	segment_settle_later(srv, seg); /* a waiter leaving can unblock those behind it */
}

void server_drop_conn_grants(struct server *srv, struct conn *c)
{
	struct grant *g;

	/* Every grant goes before any waiter is reconsidered, so none of this
	 * client's own waits is granted by the release of its own leases. */
	while ((g = TAILQ_FIRST(&c->grants))) {
		struct segment *seg = g->seg;

		grant_remove(srv, g);
		segment_settle_later(srv, seg);
	}
}

/* ---- creating segments ---------------------------------------------------- */

/* Reserving this much memory or more (a CREATE, or what a RESIZE adds) happens
 * on libuv's thread pool: tmpfs takes some 0.2 s per GiB to hand out the
 * pages, and the loop must not make every other client wait for that. */
#define BACKGROUND_BYTES (16u << 20)

/* /dev/shm is writable by every local user: names are unguessable (a random
 * part per run), and should one be taken anyway the next is tried. */
#define CREATE_NAME_TRIES 8

static int open_object(struct segment *seg, const char *prefix, uint64_t instance, uint64_t first, bool prealloc)
{
	char shm_name[SEGMENT_SHM_NAME_MAX];
	int err = -EEXIST;

	for (uint64_t n = first; n < first + CREATE_NAME_TRIES && err == -EEXIST; n++) {
		snprintf(shm_name, sizeof(shm_name), "%s%016" PRIx64 ".%" PRIu64, prefix, instance, n);
		err = segment_open(seg, shm_name, prealloc);
		if (err == -EEXIST)
			log_warn("shared-memory object %s already exists (not ours); trying another name", shm_name);
	}
	return err;
}

/* Answer a CREATE (c may be NULL: the client left meanwhile) and, on success,
 * make the segment exist. Takes seg. */
static void finish_create(struct server *srv, struct conn *c, const struct proto_msg *req, struct segment *seg,
			  int err)
{
	if (err < 0) {
		bool no_memory = err == -ENOSPC || err == -ENOMEM || err == -EFBIG;

		if (!no_memory)
			log_err("cannot create a shared-memory object for '%s': %s", seg->name, strerror(-err));
		if (c && no_memory)
			reply_error(c, req, PROTO_E_NOSPC, "no memory for %" PRIu64 " bytes in /dev/shm", seg->size);
		else if (c && (err == -EMFILE || err == -ENFILE))
			reply_error(c, req, PROTO_E_LIMIT, "shmbufd is out of file descriptors");
		else if (c)
			reply_error(c, req, PROTO_E_INTERNAL, "cannot create the shared-memory object: %s",
				    strerror(-err));
		segment_free(seg);
		return;
	}
	seg->id = ++srv->next_segment_id;
	HASH_ADD_STR(srv->segments, name, seg);
	TAILQ_INSERT_TAIL(&srv->all_segments, seg, order_link);
	srv->bytes += seg->size;
	srv->n_segments++;
	event_segment(srv, PROTO_EV_SEGMENT_CREATED, seg, c);
	log_info("client %d (uid %d) created segment '%s' (%" PRIu64 " bytes, mode %03o) as %s", (int)seg->pid,
		 (int)seg->uid, seg->name, seg->size, seg->mode, seg->shm_name);
	if (c)
		reply_ok(c, req);
}

/* What every request carried out on the thread pool keeps: the segment it
 * works on and whom to answer. Embedded first in each kind of job. */
struct bg_job {
	uv_work_t work;       /* data: the whole job */
	struct server *srv;
	struct segment *seg;
	uint64_t conn_id;     /* to answer, if the client is still there */
	uint16_t op;          /* of the request */
	uint32_t seq;
};

static void bg_job_init(struct bg_job *b, void *job, struct conn *c, const struct proto_msg *req,
			struct segment *seg)
{
	b->work.data = job;
	b->srv = c->srv;
	b->seg = seg;
	b->conn_id = c->id;
	b->op = req->op;
	b->seq = req->seq;
}

/* The client that asked, or NULL if it has left; req becomes its request, to answer. */
static struct conn *bg_job_client(const struct bg_job *b, struct proto_msg *req)
{
	struct conn *c;

	*req = (struct proto_msg){ .op = b->op, .seq = b->seq };
	TAILQ_FOREACH(c, &b->srv->conns, link)
		if (c->id == b->conn_id)
			return c->dead ? NULL : c;
	return NULL;
}

/* A CREATE whose memory is reserved on the thread pool. Owned by the pool
 * until create_done(). Its segment is pending: in server->segments, counted,
 * not usable. */
struct create_job {
	struct bg_job b;
	TAILQ_ENTRY(create_job) link; /* server->creates */
	char prefix[sizeof(((struct server *)0)->shm_prefix)];
	uint64_t instance, first;  /* object names to try */
	bool prealloc;
	int err;
};

static void create_work(uv_work_t *w)
{
	struct create_job *job = w->data;

	/* Only job and its segment: the loop does not touch a pending segment. */
	job->err = open_object(job->b.seg, job->prefix, job->instance, job->first, job->prealloc);
}

static void create_done(uv_work_t *w, int status)
{
	struct create_job *job = w->data;
	struct server *srv = job->b.srv;
	struct segment *seg = job->b.seg;
	struct proto_msg req;
	struct conn *c;

	TAILQ_REMOVE(&srv->creates, job, link);
	HASH_DEL(srv->segments, seg);
	srv->bytes -= seg->size;
	srv->n_segments--;
	seg->pending = false;
	if (srv->stopping || status < 0) {
		segment_free(seg);
		free(job);
		return;
	}
	c = bg_job_client(&job->b, &req);
	finish_create(srv, c, &req, seg, job->err);
	free(job);
}

void request_cancel_creates(struct server *srv)
{
	struct create_job *job;

	/* Those already running finish; create_done() frees them all. */
	TAILQ_FOREACH(job, &srv->creates, link)
		uv_cancel((uv_req_t *)&job->b.work);
}

/* Returns 0 when the create went to the thread pool, or a negative errno to
 * do it here after all. Until it is done the name is taken and its bytes
 * counted, but the segment is not there for other requests. */
static int create_in_background(struct conn *c, const struct proto_msg *req, struct segment *seg)
{
	struct server *srv = c->srv;
	struct create_job *job = calloc(1, sizeof(*job));
	int r;

	if (!job)
		return -ENOMEM;
	bg_job_init(&job->b, job, c, req, seg);
	memcpy(job->prefix, srv->shm_prefix, sizeof(job->prefix));
	job->instance = srv->instance;
	job->first = srv->next_object;
	job->prealloc = srv->cfg.prealloc;
	r = uv_queue_work(srv->loop, &job->b.work, create_work, create_done);
	if (r < 0) {
		free(job);
		return r;
	}
	srv->next_object += CREATE_NAME_TRIES;
	TAILQ_INSERT_TAIL(&srv->creates, job, link);
	seg->pending = true;
	HASH_ADD_STR(srv->segments, name, seg);
	srv->bytes += seg->size;
	srv->n_segments++;
	return 0;
}

/* A RESIZE that grows a segment by BACKGROUND_BYTES or more: the new memory
 * is reserved on the thread pool (beyond the current end), then the size is
 * set on the loop. Meanwhile the segment works at its old size; other
 * RESIZEs get BUSY; a DESTROY goes ahead (the job's reference keeps the
 * memory until it is done). */
struct grow_job {
	struct bg_job b;      /* b.seg is counted in seg->refs while the job lives */
	int fd;               /* seg->fd_rw, valid while the reference is held */
	uint64_t from, to;
	int err;
};

static void grow_work(uv_work_t *w)
{
	struct grow_job *job = w->data;

	job->err = segment_reserve_beyond(job->fd, job->from, job->to);
}

static void grow_done(uv_work_t *w, int status)
{
	struct grow_job *job = w->data;
	struct server *srv = job->b.srv;
	struct segment *seg = job->b.seg;
	struct proto_msg req;
	struct conn *c = bg_job_client(&job->b, &req);
	int err = status < 0 ? status : job->err;

	seg->growing = false;
	seg->refs--;
	srv->bytes -= job->to - job->from; /* the reservation; counted for real below */
	if (srv->stopping || seg->destroyed) {
		if (c && !srv->stopping)
			reply_error(c, &req, PROTO_E_NOENT, "segment '%s' was destroyed while growing", seg->name);
		segment_settle_later(srv, seg); /* frees it if nothing else holds it */
	} else if (err == 0 && (err = segment_resize(seg, job->to, false)) == 0) {
		log_info("segment '%s' grown from %" PRIu64 " to %" PRIu64 " bytes", seg->name, job->from, job->to);
		srv->bytes += job->to - job->from;
		if (c)
			reply_ok(c, &req);
		event_segment(srv, PROTO_EV_SEGMENT_RESIZED, seg, c);
	} else {
		/* Give back whatever was reserved past the end. */
		if (ftruncate(seg->fd_rw, (off_t)seg->size) < 0)
			log_err("cannot trim segment '%s': %s", seg->name, strerror(errno));
		if (c && (err == -ENOSPC || err == -ENOMEM))
			reply_error(c, &req, PROTO_E_NOSPC, "no memory for %" PRIu64 " bytes in /dev/shm", job->to);
		else if (c)
			reply_error(c, &req, PROTO_E_INTERNAL, "cannot grow the shared-memory object: %s",
				    strerror(-err));
	}
	free(job);
}

/* Returns 0 when the grow went to the thread pool, or a negative errno to do
 * it here after all. */
static int grow_in_background(struct conn *c, const struct proto_msg *req, struct segment *seg, uint64_t size)
{
	struct server *srv = c->srv;
	struct grow_job *job = calloc(1, sizeof(*job));
	int r;

	if (!job)
		return -ENOMEM;
	bg_job_init(&job->b, job, c, req, seg);
	job->fd = seg->fd_rw;
	job->from = seg->size;
	job->to = size;
	r = uv_queue_work(srv->loop, &job->b.work, grow_work, grow_done);
	if (r < 0) {
		free(job);
		return r;
	}
	seg->growing = true;
	seg->refs++;
	srv->bytes += size - seg->size; /* reserved now, so concurrent creates see it */
	return 0;
}

/* ---- handlers ------------------------------------------------------------- */

bool request_name_is_valid(struct conn *c, const struct proto_msg *req, const char *name)
{
	if (proto_name_is_valid(name, strlen(name)))
		return true;
	reply_error(c, req, PROTO_E_INVAL, "invalid segment name: use 1-255 printable ASCII bytes, not starting with '/'");
	return false;
}

static struct segment *find_segment(struct conn *c, const struct proto_msg *req, const char *name)
{
	struct segment *seg = NULL;

	if (!request_name_is_valid(c, req, name))
		return NULL;
	HASH_FIND_STR(c->srv->segments, name, seg);
	if (!seg)
		reply_error(c, req, PROTO_E_NOENT, "no segment named '%s'", name);
	else if (seg->pending)
		reply_error(c, req, PROTO_E_NOENT, "segment '%s' is still being created", name);
	return seg && !seg->pending ? seg : NULL;
}

static void handle_hello(struct conn *c, const struct proto_msg *req)
{
	const struct proto_hello *h = &req->u.hello;
	struct proto_msg rep = { .op = PROTO_OP_HELLO | PROTO_REPLY_BIT, .seq = req->seq };

	if (c->hello_done) {
		reply_error(c, req, PROTO_E_PROTO, "HELLO sent twice");
		return;
	}
	if (h->min_version > PROTO_VERSION || h->max_version < PROTO_VERSION) {
		reply_error(c, req, PROTO_E_VERSION, "client speaks versions %u-%u, shmbufd speaks %u",
			    h->min_version, h->max_version, PROTO_VERSION);
		conn_fail(c, "no common protocol version");
		return;
	}
	c->hello_done = true;
	rep.u.hello_reply.version = PROTO_VERSION;
	rep.u.hello_reply.max_message = c->srv->cfg.limits.max_message;
	rep.u.hello_reply.server_pid = (uint32_t)getpid();
	snprintf(rep.u.hello_reply.server_version, sizeof(rep.u.hello_reply.server_version), "%s",
		 SHMBUF_VERSION_STR);
	conn_send(c, &rep, -1);
}

static void handle_create(struct conn *c, const struct proto_msg *req)
{
	const struct proto_segment_req *r = &req->u.segment;
	struct server *srv = c->srv;
	const struct server_limits *lim = &srv->cfg.limits;
	struct segment *seg = NULL;
	uint64_t total;
	int err;

	if (!request_name_is_valid(c, req, r->name))
		return;
	if (r->size == 0) {
		reply_error(c, req, PROTO_E_INVAL, "segment size must be at least 1 byte");
		return;
	}
	if (r->mode > 0777) {
		reply_error(c, req, PROTO_E_INVAL, "mode %#o has bits outside 0777", r->mode);
		return;
	}
	HASH_FIND_STR(srv->segments, r->name, seg);
	if (seg) {
		reply_error(c, req, PROTO_E_EXIST, "segment '%s' already exists", r->name);
		return;
	}
	if (srv->n_segments >= lim->max_segments) {
		reply_error(c, req, PROTO_E_LIMIT, "segment limit reached (%u)", lim->max_segments);
		return;
	}
	if (__builtin_add_overflow(srv->bytes, r->size, &total) || total > lim->max_bytes) {
		reply_error(c, req, PROTO_E_NOSPC,
			    "%" PRIu64 " more bytes would pass the byte limit (%" PRIu64 " of %" PRIu64 " in use)",
			    r->size, srv->bytes, lim->max_bytes);
		return;
	}
	err = segment_alloc(r->name, r->size, &seg);
	if (err < 0) {
		reply_error(c, req, err == -EFBIG ? PROTO_E_NOSPC : PROTO_E_INTERNAL, "cannot create '%s': %s",
			    r->name, strerror(-err));
		return;
	}
	seg->mode = r->mode;
	seg->uid = c->cred.uid;
	seg->gid = c->cred.gid;
	seg->pid = c->cred.pid;
	if (srv->cfg.prealloc && r->size >= BACKGROUND_BYTES && create_in_background(c, req, seg) == 0)
		return;
	err = open_object(seg, srv->shm_prefix, srv->instance, srv->next_object, srv->cfg.prealloc);
	srv->next_object += CREATE_NAME_TRIES;
	finish_create(srv, c, req, seg, err);
}

static void handle_destroy(struct conn *c, const struct proto_msg *req)
{
	struct server *srv = c->srv;
	struct segment *seg = find_segment(c, req, req->u.segment.name);

	if (!seg)
		return;
	HASH_DEL(srv->segments, seg);
	segment_unlink(seg);
	log_info("client %d (%s) destroyed segment '%s'%s", (int)c->cred.pid, c->comm, seg->name,
		 segment_is_leased(seg) ? "; memory stays until its leases end" : "");
	reply_ok(c, req);
	event_segment(srv, PROTO_EV_SEGMENT_DESTROYED, seg, c);
	fail_waiters(srv, seg, 0, PROTO_E_NOENT);
	segment_settle_later(srv, seg); /* frees it now when nothing holds it */
}

static void handle_resize(struct conn *c, const struct proto_msg *req)
{
	struct server *srv = c->srv;
	uint64_t size = req->u.segment.size, old, end, total;
	struct segment *seg = find_segment(c, req, req->u.segment.name);
	int err;

	if (!seg)
		return;
	if (size == 0) {
		reply_error(c, req, PROTO_E_INVAL, "segment size must be at least 1 byte");
		return;
	}
	if (size == seg->size) {
		reply_ok(c, req);
		return;
	}
	end = lease_set_granted_end(&seg->leases);
	if (size < end) {
		reply_error(c, req, PROTO_E_BUSY,
			    "cannot shrink '%s' to %" PRIu64 " bytes: bytes up to %" PRIu64 " are leased", seg->name,
			    size, end);
		return;
	}
	if (size > seg->size &&
	    (__builtin_add_overflow(srv->bytes, size - seg->size, &total) || total > srv->cfg.limits.max_bytes)) {
		reply_error(c, req, PROTO_E_NOSPC,
			    "%" PRIu64 " more bytes would pass the byte limit (%" PRIu64 " of %" PRIu64 " in use)",
			    size - seg->size, srv->bytes, srv->cfg.limits.max_bytes);
		return;
	}
	if (seg->growing) {
		reply_error(c, req, PROTO_E_BUSY, "another resize of '%s' is under way", seg->name);
		return;
	}
	if (size > seg->size && srv->cfg.prealloc && size - seg->size >= BACKGROUND_BYTES &&
	    grow_in_background(c, req, seg, size) == 0)
		return;
	old = seg->size;
	err = segment_resize(seg, size, srv->cfg.prealloc);
	if (err < 0) {
		if (err == -ENOSPC || err == -ENOMEM || err == -EFBIG)
			reply_error(c, req, PROTO_E_NOSPC, "no memory for %" PRIu64 " bytes in /dev/shm", size);
		else
			reply_error(c, req, PROTO_E_INTERNAL, "cannot resize the shared-memory object: %s",
				    strerror(-err));
		return;
	}
	log_info("client %d (%s) resized segment '%s' from %" PRIu64 " to %" PRIu64 " bytes", (int)c->cred.pid,
		 c->comm, seg->name, old, size);
	srv->bytes = srv->bytes - old + size;
	reply_ok(c, req);
	event_segment(srv, PROTO_EV_SEGMENT_RESIZED, seg, c);
	if (size < old && !TAILQ_EMPTY(&seg->leases.waiting)) {
		fail_waiters(srv, seg, size, PROTO_E_RANGE);
		segment_settle_later(srv, seg);
	}
}

static void handle_acquire(struct conn *c, const struct proto_msg *req)
{
	const struct proto_acquire *a = &req->u.acquire;
	struct server *srv = c->srv;
	uint64_t length = a->length, end;
	struct segment *seg;
	struct grant *g;
	enum lease_verdict v;

	if (a->flags != PROTO_ACQ_READ && a->flags != PROTO_ACQ_WRITE) {
		reply_error(c, req, PROTO_E_INVAL, "flags must be READ (1) or WRITE (2), not %#x", a->flags);
		return;
	}
	if (a->timeout_ms < -1) {
		reply_error(c, req, PROTO_E_INVAL, "timeout must be -1, 0 or positive, not %d", a->timeout_ms);
		return;
	}
	seg = find_segment(c, req, a->name);
	if (!seg)
		return;
	if (a->offset >= seg->size) {
		reply_error(c, req, PROTO_E_RANGE, "offset %" PRIu64 " is not inside '%s' (%" PRIu64 " bytes)",
			    a->offset, seg->name, seg->size);
		return;
	}
	if (length == 0)
		length = seg->size - a->offset;
	if (__builtin_add_overflow(a->offset, length, &end) || end > seg->size) {
		reply_error(c, req, PROTO_E_RANGE,
			    "offset %" PRIu64 " + length %" PRIu64 " passes the end of '%s' (%" PRIu64 " bytes)",
			    a->offset, length, seg->name, seg->size);
		return;
	}
	if (c->n_grants >= srv->cfg.limits.max_leases) {
		reply_error(c, req, PROTO_E_LIMIT, "lease limit per connection reached (%u)",
			    srv->cfg.limits.max_leases);
		return;
	}
	if (seg->leases.n_read + seg->leases.n_write + seg->leases.n_waiting >= srv->cfg.limits.max_segment_leases) {
		reply_error(c, req, PROTO_E_LIMIT, "'%s' has %u leases held or waited for, its limit", seg->name,
			    srv->cfg.limits.max_segment_leases);
		return;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		reply_error(c, req, PROTO_E_INTERNAL, "out of memory");
		return;
	}
	lease_init(&g->lease, a->offset, length, a->flags == PROTO_ACQ_WRITE);
	v = lease_set_request(&seg->leases, &g->lease, a->timeout_ms != 0);
	if (v == LEASE_VERDICT_BUSY) {
		free(g);
		reply_error(c, req, PROTO_E_BUSY,
			    "range %" PRIu64 "+%" PRIu64 " of '%s' conflicts with a lease held or waited for",
			    a->offset, length, seg->name);
		return;
	}
	g->id = ++srv->next_lease_id;
	g->seg = seg;
	g->conn = c;
	g->seq = req->seq;
	g->since_ns = server_now_ns();
	seg->refs++;
	TAILQ_INSERT_TAIL(&c->grants, g, conn_link);
	TAILQ_INSERT_TAIL(&srv->all_grants, g, order_link);
	c->n_grants++;
	HASH_ADD(hh, srv->grants, id, sizeof(g->id), g);
	if (v == LEASE_VERDICT_GRANTED) {
		event_lease(srv, PROTO_EV_LEASE_ACQUIRED, g);
		if (!send_granted(g)) {
			grant_remove(srv, g);
			segment_settle_later(srv, seg);
		}
		return;
	}
	c->n_waiting++;
	event_lease(srv, PROTO_EV_LEASE_WAITING, g);
	if (a->timeout_ms > 0) {
		uv_timer_init(srv->loop, &g->timer);
		g->timer.data = g;
		g->has_timer = true;
		uv_timer_start(&g->timer, on_wait_timeout, (uint64_t)a->timeout_ms, 0);
	}
}

static void handle_release(struct conn *c, const struct proto_msg *req)
{
	struct server *srv = c->srv;
	uint64_t id = req->u.release.lease_id;
	struct segment *seg;
	struct grant *g = NULL;

	HASH_FIND(hh, srv->grants, &id, sizeof(id), g);
	/* Another client's lease is reported as absent: ids reveal nothing. */
	if (!g || g->conn != c || g->lease.state != LEASE_GRANTED) {
		reply_error(c, req, PROTO_E_NOENT, "no lease %" PRIu64 " is held by this connection", id);
		return;
	}
	seg = g->seg;
	grant_remove(srv, g);
	reply_ok(c, req);
	segment_settle_later(srv, seg);
}

static void handle_stat(struct conn *c, const struct proto_msg *req)
{
	struct proto_msg rep = { .op = PROTO_OP_STAT | PROTO_REPLY_BIT, .seq = req->seq };
	struct segment *seg = find_segment(c, req, req->u.segment.name);

	if (!seg)
		return;
	rep.u.stat_reply.size = seg->size;
	rep.u.stat_reply.mode = seg->mode;
	rep.u.stat_reply.uid = seg->uid;
	rep.u.stat_reply.gid = seg->gid;
	rep.u.stat_reply.read_leases = seg->leases.n_read;
	rep.u.stat_reply.write_leases = seg->leases.n_write;
	rep.u.stat_reply.waiters = seg->leases.n_waiting;
	conn_send(c, &rep, -1);
}

/* ---- dispatch ------------------------------------------------------------- */

void request_handle(struct conn *c, const uint8_t *buf, size_t len, int fd)
{
	struct proto_msg req;
	const char *why = "malformed message";
	int r;

	if (fd >= 0) {
		close(fd);
		req.op = PROTO_OP_HELLO;
		req.seq = len >= 8 ? (uint32_t)buf[4] | (uint32_t)buf[5] << 8 | (uint32_t)buf[6] << 16 |
						 (uint32_t)buf[7] << 24
				   : 0;
		reply_error(c, &req, PROTO_E_BADFD, "file descriptors are not accepted");
		conn_fail(c, "sent a file descriptor");
		return;
	}
	r = proto_decode(buf, len, &req, &why);
	if (r == -EOPNOTSUPP) {
		reply_error(c, &req, PROTO_E_NOTSUP, "unknown opcode %u", req.op);
		return;
	}
	if (r == -ENAMETOOLONG) {
		reply_error(c, &req, PROTO_E_NAMETOOLONG, "segment name longer than %d bytes", PROTO_NAME_MAX);
		return;
	}
	if (r < 0 || (req.op & PROTO_REPLY_BIT)) {
		struct proto_msg bad = { .op = PROTO_OP_HELLO, .seq = 0 };

		if (r == 0)
			why = "clients send requests, not replies";
		reply_error(c, r < 0 ? &bad : &req, PROTO_E_PROTO, "malformed message: %s", why);
		conn_fail(c, why);
		return;
	}
	if (!c->hello_done && req.op != PROTO_OP_HELLO) {
		reply_error(c, &req, PROTO_E_PROTO, "HELLO must come first");
		conn_fail(c, "request before HELLO");
		return;
	}
	switch ((enum proto_op)req.op) {
	case PROTO_OP_HELLO:
		handle_hello(c, &req);
		return;
	case PROTO_OP_CREATE:
		handle_create(c, &req);
		return;
	case PROTO_OP_DESTROY:
		handle_destroy(c, &req);
		return;
	case PROTO_OP_RESIZE:
		handle_resize(c, &req);
		return;
	case PROTO_OP_ACQUIRE:
		handle_acquire(c, &req);
		return;
	case PROTO_OP_RELEASE:
		handle_release(c, &req);
		return;
	case PROTO_OP_STAT:
		handle_stat(c, &req);
		return;
	case PROTO_OP_STATUS:
		handle_status(c, &req);
		return;
	case PROTO_OP_LIST_SEGMENTS:
		handle_list_segments(c, &req);
		return;
	case PROTO_OP_LIST_LEASES:
		handle_list_leases(c, &req);
		return;
	case PROTO_OP_LIST_CLIENTS:
		handle_list_clients(c, &req);
		return;
	case PROTO_OP_SUBSCRIBE:
		handle_subscribe(c, &req);
		return;
	case PROTO_OP_EVENT:
		break; /* daemon-to-client only */
	}
	reply_error(c, &req, PROTO_E_NOTSUP, "opcode %u is not a request", req.op);
}
