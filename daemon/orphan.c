/* SPDX-License-Identifier: MIT */
/* orphan.c: leases that outlived a restart: adopted from the lease table, held by stand-in
 * clients (one per recorded pid) until reclaimed, their holder dies, or the grace ends. */
#define _GNU_SOURCE
#include "orphan.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "grant.h"
#include "leasetab.h"
#include "log.h"
#include "mapper.h"
#include "server.h"

#define ORPHAN_CHECK_MS 100 /* how often holders' pids are checked during grace */

/* Holds one dead-or-away process's orphans: a client with no connection, never in
 * srv->clients. Owned by the orphanage (holders), freed once it holds nothing. */
struct orphan_holder {
	struct client cl;
	struct conn conn; /* cred and comm only: what listings and BUSY texts show */
	uint32_t pid;
	UT_hash_handle hh;
};

/* Owned by the server (srv->orphans) from orphan_init(); freed with its timer's close. */
struct orphanage {
	struct server *srv;
	struct orphan_holder *holders; /* by pid */
	uv_timer_t timer;              /* pid checks, and the end of the grace */
	uint64_t grace_end_ns;         /* CLOCK_MONOTONIC */
	uint64_t started_ns;
	bool in_grace;
	uint64_t *stale_ids; /* recorded leases whose segment did not come back, sorted */
	size_t n_stale;
	struct orphan_counts counts;
};

/* ---- adoption ------------------------------------------------------------ */

struct seg_by_id {
	uint64_t id;
	struct segment *seg;
};

struct adopt_rec {
	struct leasetab_rec r; /* first: sorted by r.lease_id */
	uint32_t slot;
};

struct load_ctx {
	struct orphanage *o;
	struct seg_by_id *segs;
	size_t n_segs;
	struct adopt_rec *recs; /* to adopt, in id order once sorted */
	size_t n, cap;
	bool is_oom;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct segment *seg_find(const struct load_ctx *c, uint64_t id)
{
	struct seg_by_id *s = bsearch(&id, c->segs, c->n_segs, sizeof(*c->segs), cmp_u64);

	return s ? s->seg : NULL;
}

static void note_stale(struct orphanage *o, uint64_t id)
{
	uint64_t *p = realloc(o->stale_ids, (o->n_stale + 1) * sizeof(*p));

	if (!p)
		return; /* then its RECLAIM is answered NOENT rather than STALE */
	o->stale_ids = p;
	o->stale_ids[o->n_stale++] = id;
}

static bool on_recorded(const struct leasetab_rec *r, uint32_t slot, void *ctx)
{
	struct load_ctx *c = ctx;
	struct segment *seg = seg_find(c, r->segment_id);
	uint64_t end;

	if (!seg || __builtin_add_overflow(r->offset, r->length, &end) || end > seg->size || r->length == 0) {
		note_stale(c->o, r->lease_id);
		c->o->counts.lost++;
		return false;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct adopt_rec *recs = realloc(c->recs, cap * sizeof(*recs));

		if (!recs) {
			c->is_oom = true;
			return false;
		}
		c->recs = recs;
		c->cap = cap;
	}
	c->recs[c->n++] = (struct adopt_rec){ *r, slot };
	return true;
}

static struct orphan_holder *holder_of(struct orphanage *o, uint32_t pid, uint32_t uid)
{
	struct orphan_holder *h;

	HASH_FIND(hh, o->holders, &pid, sizeof(pid), h);
	if (h)
		return h;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->pid = pid;
	h->conn.fd = -1;
	h->conn.cred.pid = (pid_t)pid;
	h->conn.cred.uid = uid;
	h->conn.cred.gid = (gid_t)-1;
	snprintf(h->conn.comm, sizeof(h->conn.comm), "(restarted)");
	h->cl.srv = o->srv;
	h->cl.conn = &h->conn;
	/* Its leases count against their recorded uid's lease quota, as they did before. */
	h->cl.user = quota_user_get(&o->srv->quota, (uid_t)uid);
	h->cl.has_said_hello = true;
	h->cl.is_orphan_holder = true;
	TAILQ_INIT(&h->cl.grants);
	TAILQ_INIT(&h->cl.mappers);
	HASH_ADD(hh, o->holders, pid, sizeof(h->pid), h);
	return h;
}

static void holder_free(struct orphanage *o, struct orphan_holder *h);

/* Link one recorded lease as a granted lease of its pid's holder. */
static bool adopt(struct load_ctx *c, const struct leasetab_rec *r, uint32_t slot)
{
	struct segment *seg = seg_find(c, r->segment_id);
	struct orphan_holder *h = holder_of(c->o, r->pid, r->uid);
	struct grant *g = h ? grant_new(&h->cl, seg, 0, r->offset, r->length, r->write) : NULL;

	if (!g)
		return false;
	/* Orphans were held together before: they cannot conflict, unless the table lies. */
	if (lease_set_request(&seg->leases, &g->lease, false) != LEASE_VERDICT_GRANTED) {
		log_warn("recorded lease %" PRIu64 " conflicts with another on '%s': dropped", r->lease_id, seg->name);
		grant_free(g);
		if (h->cl.n_grants == 0)
			holder_free(c->o, h);
		return false;
	}
	g->slot = slot;
	grant_link_as(g, r->lease_id);
	return true;
}


static int collect_segments(struct server *srv, struct load_ctx *c)
{
	struct segment *seg;

	c->segs = calloc(HASH_COUNT(srv->segments) + 1, sizeof(*c->segs));
	if (!c->segs)
		return -ENOMEM;
	TAILQ_FOREACH(seg, &srv->all_segments, order_link) {
		if (!seg->is_destroyed && !seg->is_pending)
			c->segs[c->n_segs++] = (struct seg_by_id){ seg->id, seg };
	}
	qsort(c->segs, c->n_segs, sizeof(*c->segs), cmp_u64);
	return 0;
}

/* ---- the grace period ------------------------------------------------------ */

static void holder_free(struct orphanage *o, struct orphan_holder *h)
{
	HASH_DEL(o->holders, h);
	quota_user_put(&o->srv->quota, h->conn.cred.uid); /* holds nothing now */
	free(h);
}

/* h's orphans go (its holder died, or the grace ended): their ranges are free again. */
static void holder_drop(struct orphanage *o, struct orphan_holder *h, const char *why)
{
	uint32_t n = h->cl.n_grants;

	if (n)
		log_notice("%u leases held before the restart by pid %u freed: %s", n, h->pid, why);
	o->counts.lost += n;
	o->counts.left -= n;
	grant_drop_client(&h->cl);
	holder_free(o, h);
}

static void end_grace(struct orphanage *o, const char *why)
{
	struct orphan_holder *h, *tmp;

	HASH_ITER(hh, o->holders, h, tmp)
		holder_drop(o, h, "the grace period ended");
	if (!o->in_grace)
		return;
	o->in_grace = false;
	uv_timer_stop(&o->timer);
	log_notice("grace period over after %" PRIu64 " ms (%s): %u leases reclaimed, %u lost", 
		   (clock_mono_ns() - o->started_ns) / 1000000, why, o->counts.reclaimed, o->counts.lost);
}

static void on_tick(uv_timer_t *t)
{
	struct orphanage *o = t->data;
	struct orphan_holder *h, *tmp;

	if (clock_mono_ns() >= o->grace_end_ns) {
		end_grace(o, "time");
		return;
	}
	/* Root or the same uid as every holder (only our own uid's leases are recorded when
	 * not root): EPERM means alive under another uid, only ESRCH means gone. */
	HASH_ITER(hh, o->holders, h, tmp) {
		if (kill((pid_t)h->pid, 0) < 0 && errno == ESRCH)
			holder_drop(o, h, "its process is gone");
	}
	if (o->counts.left == 0)
		end_grace(o, "every lease accounted for");
}

static void start_grace(struct server *srv, struct orphanage *o)
{
	o->started_ns = clock_mono_ns();
	o->grace_end_ns = o->started_ns + srv->cfg.grace_ms * 1000000ull;
	o->in_grace = true;
	log_notice("%u leases held before the restart wait for their holders (grace %" PRIu64 " ms); %u lost",
		   o->counts.left, srv->cfg.grace_ms, o->counts.lost);
	on_tick(&o->timer); /* the dead go at once */
	if (o->in_grace)
		uv_timer_start(&o->timer, on_tick, ORPHAN_CHECK_MS, ORPHAN_CHECK_MS);
}

/* ---- start and exit ---------------------------------------------------------- */

static void adopt_all(struct server *srv, struct load_ctx *c)
{
	if (c->n > 0)
		qsort(c->recs, c->n, sizeof(*c->recs), cmp_u64);
	for (size_t i = 0; i < c->n; i++) {
		if (adopt(c, &c->recs[i].r, c->recs[i].slot)) {
			c->o->counts.recorded++;
			continue;
		}
		leasetab_clear(&srv->leasetab, c->recs[i].slot);
		c->o->counts.lost++;
	}
	c->o->counts.left = c->o->counts.recorded;
	if (c->o->n_stale > 0)
		qsort(c->o->stale_ids, c->o->n_stale, sizeof(*c->o->stale_ids), cmp_u64);
}

int orphan_init(struct server *srv)
{
	char path[PATH_MAX + 16];
	struct load_ctx c = { 0 };
	uint64_t max_id = 0;
	int r;

	c.o = srv->orphans = calloc(1, sizeof(*srv->orphans));
	if (!c.o)
		return -ENOMEM;
	c.o->srv = srv;
	uv_timer_init(srv->loop, &c.o->timer);
	c.o->timer.data = c.o;
	snprintf(path, sizeof(path), "%s.leases", srv->state_path);
	r = leasetab_open(&srv->leasetab, path);
	if (r < 0) {
		log_warn("cannot open the lease table %s: %s; leases will not survive a restart", path, strerror(-r));
		return 0;
	}
	r = collect_segments(srv, &c);
	if (r == 0)
		r = leasetab_load(&srv->leasetab, on_recorded, &c, &max_id);
	if (r == 0 && c.is_oom)
		r = -ENOMEM;
	if (max_id > srv->next_lease_id)
		srv->next_lease_id = max_id; /* ids never repeat, across restarts too */
	if (r == 0)
		adopt_all(srv, &c);
	free(c.segs);
	free(c.recs);
	if (r == 0 && (c.o->counts.left > 0))
		start_grace(srv, c.o);
	else if (r == 0 && c.o->counts.lost > 0)
		log_notice("%u leases held before the restart lost with their segments", c.o->counts.lost);
	return r;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct orphanage *o = h->data;

	free(o->stale_ids);
	free(o);
}

void orphan_deinit(struct server *srv)
{
	struct orphanage *o = srv->orphans;
	struct orphan_holder *h, *tmp;

	if (!o)
		return;
	/* srv->is_stopping: their grants end here but stay recorded, orphans again next start. */
	HASH_ITER(hh, o->holders, h, tmp) {
		grant_drop_client(&h->cl);
		holder_free(o, h);
	}
	uv_close((uv_handle_t *)&o->timer, on_timer_closed);
	srv->orphans = NULL;
	leasetab_close(&srv->leasetab);
}

/* ---- reclaim ----------------------------------------------------------------- */

static bool is_stale(const struct orphanage *o, uint64_t id)
{
	return o->n_stale && bsearch(&id, o->stale_ids, o->n_stale, sizeof(*o->stale_ids), cmp_u64);
}

/* Does g, an orphan, match what the client says it held, as the same process? */
static bool matches(const struct grant *g, const struct client *cl, const struct proto_reclaim *r)
{
	const struct orphan_holder *h = (const struct orphan_holder *)g->cl;

	return g->seg->id == r->segment_id && g->lease.offset == r->offset && g->lease.length == r->length &&
	       g->lease.write == (r->flags == PROTO_ACQ_WRITE) && h->pid == (uint32_t)cl->conn->cred.pid &&
	       h->conn.cred.uid == cl->conn->cred.uid;
}

enum proto_status orphan_reclaim(struct client *cl, const struct proto_reclaim *r, const char **why)
{
	struct orphanage *o = cl->srv->orphans;
	struct grant *g = grant_find(cl->srv, r->lease_id);
	struct orphan_holder *h;

	if (r->flags != PROTO_ACQ_READ && r->flags != PROTO_ACQ_WRITE) {
		*why = "flags must be READ (1) or WRITE (2)";
		return PROTO_E_INVAL;
	}
	if (!o || !g || !g->cl->is_orphan_holder || !matches(g, cl, r)) {
		if (o && is_stale(o, r->lease_id)) {
			*why = "the lease's segment did not survive the restart";
			return PROTO_E_STALE;
		}
		*why = "no lease held before the restart matches (gone with the grace period or its holder?)";
		return PROTO_E_NOENT;
	}
	h = (struct orphan_holder *)g->cl;
	/* The client holds the segment's fd of this mode (it held the lease): record it. */
	if (mapper_add(cl, g->seg, r->flags) < 0) {
		*why = "out of memory";
		return PROTO_E_INTERNAL;
	}
	TAILQ_REMOVE(&h->cl.grants, g, client_link);
	h->cl.n_grants--;
	quota_lease(h->cl.user, -1); /* the charge moves to the reclaiming connection's user */
	g->cl = cl;
	TAILQ_INSERT_TAIL(&cl->grants, g, client_link);
	cl->n_grants++;
	quota_lease(cl->user, +1);
	if (h->cl.n_grants == 0)
		holder_free(o, h);
	o->counts.reclaimed++;
	o->counts.left--;
	if (o->counts.left == 0)
		end_grace(o, "every lease accounted for");
	return PROTO_OK;
}

void orphan_counts(const struct server *srv, struct orphan_counts *out)
{
	const struct orphanage *o = srv->orphans;
	uint64_t now = clock_mono_ns();

	memset(out, 0, sizeof(*out));
	if (!o)
		return;
	*out = o->counts;
	out->in_grace = o->in_grace;
	/* Rounded up: in grace, never 0. */
	if (o->in_grace)
		out->grace_left_ms = o->grace_end_ns > now ? (o->grace_end_ns - now + 999999) / 1000000 : 1;
}
