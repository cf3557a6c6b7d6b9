/* SPDX-License-Identifier: MIT */
/* test_lease.c: lease conflict rules, FIFO wait queue and a randomized model check. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "lease.h"

/* Records what lease_set_promote() reported, in order. */
struct promoted {
	struct lease *leases[64];
	size_t n;
};

static void record_promoted(struct lease *l, void *ctx)
{
	struct promoted *p = ctx;

	cr_assert_lt(p->n, sizeof(p->leases) / sizeof(p->leases[0]));
	cr_assert_eq(l->state, LEASE_GRANTED, "callback must see the lease already granted");
	p->leases[p->n++] = l;
}

static size_t list_length(const struct lease_list *list)
{
	const struct lease *l;
	size_t n = 0;

	TAILQ_FOREACH(l, list, link)
		n++;
	return n;
}

/* Counters match both the expectation and the lists they summarize. */
static void assert_counts(const struct lease_set *s, uint32_t n_read, uint32_t n_write, uint32_t n_waiting)
{
	const struct lease *l;
	uint32_t reads = 0, writes = 0;

	cr_assert_eq(s->n_read, n_read, "n_read %u, expected %u", s->n_read, n_read);
	cr_assert_eq(s->n_write, n_write, "n_write %u, expected %u", s->n_write, n_write);
	cr_assert_eq(s->n_waiting, n_waiting, "n_waiting %u, expected %u", s->n_waiting, n_waiting);
	TAILQ_FOREACH(l, &s->granted, link) {
		cr_assert_eq(l->state, LEASE_GRANTED);
		if (l->write)
			writes++;
		else
			reads++;
	}
	cr_assert_eq(reads, n_read);
	cr_assert_eq(writes, n_write);
	TAILQ_FOREACH(l, &s->waiting, link)
		cr_assert_eq(l->state, LEASE_WAITING);
	cr_assert_eq(list_length(&s->waiting), n_waiting);
	cr_assert_eq(lease_set_is_empty(s), n_read + n_write + n_waiting == 0);
}

static enum lease_verdict request(struct lease_set *s, struct lease *l, uint64_t offset, uint64_t length,
				  bool write, bool may_wait)
{
	lease_init(l, offset, length, write);
	return lease_set_request(s, l, may_wait);
}

Test(lease, init_gives_an_unlinked_lease_and_an_empty_set)
{
	struct lease_set s;
	struct lease l;

	lease_set_init(&s);
	assert_counts(&s, 0, 0, 0);
	cr_assert(lease_set_is_empty(&s));
	cr_assert_eq(lease_set_granted_end(&s), 0);
	lease_init(&l, 3, 4, true);
	cr_assert_eq(l.offset, 3);
	cr_assert_eq(l.length, 4);
	cr_assert(l.write);
	cr_assert_eq(l.state, LEASE_UNLINKED);
	cr_assert_eq(lease_set_promote(&s, record_promoted, &(struct promoted){0}), 0);
	lease_set_deinit(&s);
}

Test(lease, readers_share_overlapping_ranges)
{
	struct lease_set s;
	struct lease a, b, c;

	lease_set_init(&s);
	cr_assert_eq(request(&s, &a, 0, 100, false, true), LEASE_VERDICT_GRANTED);
	assert_counts(&s, 1, 0, 0);
	cr_assert_eq(request(&s, &b, 50, 100, false, true), LEASE_VERDICT_GRANTED);
	assert_counts(&s, 2, 0, 0);
	cr_assert_eq(request(&s, &c, 0, 100, false, false), LEASE_VERDICT_GRANTED);
	assert_counts(&s, 3, 0, 0);
	cr_assert(lease_overlaps(&a, &b));
	cr_assert_not(lease_conflicts(&a, &b));
	cr_assert_eq(a.state, LEASE_GRANTED);
	cr_assert_eq(b.state, LEASE_GRANTED);
	cr_assert_eq(c.state, LEASE_GRANTED);

	lease_set_remove(&s, &a);
	assert_counts(&s, 2, 0, 0);
	lease_set_remove(&s, &b);
	lease_set_remove(&s, &c);
	assert_counts(&s, 0, 0, 0);
	lease_set_deinit(&s);
}

Test(lease, writer_excludes_overlapping_reader)
{
	struct lease_set s;
	struct lease w, r, w2, r2;

	lease_set_init(&s);
	/* Writer first: the reader has to wait. */
	cr_assert_eq(request(&s, &w, 10, 10, true, true), LEASE_VERDICT_GRANTED);
	assert_counts(&s, 0, 1, 0);
	cr_assert_eq(request(&s, &r, 19, 5, false, true), LEASE_VERDICT_WAIT);
	cr_assert_eq(r.state, LEASE_WAITING);
	assert_counts(&s, 0, 1, 1);
	cr_assert(lease_conflicts(&w, &r));
	cr_assert(lease_conflicts(&r, &w));
	lease_set_remove(&s, &w);
	assert_counts(&s, 0, 0, 1);
	cr_assert_eq(lease_set_promote(&s, NULL, NULL), 1);
	cr_assert_eq(r.state, LEASE_GRANTED);
	assert_counts(&s, 1, 0, 0);

	/* Reader first: the writer has to wait. */
	cr_assert_eq(request(&s, &w2, 15, 10, true, true), LEASE_VERDICT_WAIT);
	assert_counts(&s, 1, 0, 1);
	lease_set_remove(&s, &r);
	cr_assert_eq(lease_set_promote(&s, NULL, NULL), 1);
	cr_assert_eq(w2.state, LEASE_GRANTED);
	assert_counts(&s, 0, 1, 0);

	/* A reader covering the writer entirely conflicts too. */
	cr_assert_eq(request(&s, &r2, 0, 1000, false, false), LEASE_VERDICT_BUSY);
	lease_set_remove(&s, &w2);
	assert_counts(&s, 0, 0, 0);
	lease_set_deinit(&s);
}

Test(lease, writer_excludes_overlapping_writer)
{
	struct lease_set s;
	struct lease a, b;

	lease_set_init(&s);
	cr_assert_eq(request(&s, &a, 0, 10, true, true), LEASE_VERDICT_GRANTED);
	cr_assert_eq(request(&s, &b, 9, 10, true, true), LEASE_VERDICT_WAIT);
	assert_counts(&s, 0, 1, 1);
	cr_assert(lease_conflicts(&a, &b));
	lease_set_remove(&s, &a);
	assert_counts(&s, 0, 0, 1);
	cr_assert_eq(lease_set_promote(&s, NULL, NULL), 1);
	assert_counts(&s, 0, 1, 0);
	cr_assert_eq(b.state, LEASE_GRANTED);
	lease_set_remove(&s, &b);
	lease_set_deinit(&s);
}

Test(lease, adjacent_ranges_do_not_conflict)
{
	struct lease_set s;
	struct lease a, b, c;

	lease_set_init(&s);
	cr_assert_eq(request(&s, &a, 0, 10, true, true), LEASE_VERDICT_GRANTED);
	cr_assert_eq(request(&s, &b, 10, 10, true, false), LEASE_VERDICT_GRANTED);
	cr_assert_not(lease_overlaps(&a, &b));
	cr_assert_not(lease_overlaps(&b, &a));
	cr_assert_not(lease_conflicts(&a, &b));
	/* One byte further left does overlap. */
	lease_init(&c, 9, 1, false);
	cr_assert(lease_overlaps(&a, &c));
	cr_assert_not(lease_overlaps(&b, &c));
	assert_counts(&s, 0, 2, 0);
	lease_set_remove(&s, &a);
	lease_set_remove(&s, &b);
	lease_set_deinit(&s);
}

Test(lease, non_overlapping_writers_coexist)
{
	struct lease_set s;
	struct lease w[4];

	lease_set_init(&s);
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(request(&s, &w[i], 100 * i, 50, true, false), LEASE_VERDICT_GRANTED);
		assert_counts(&s, 0, i + 1, 0);
	}
	for (unsigned i = 0; i < 4; i++)
		lease_set_remove(&s, &w[i]);
	assert_counts(&s, 0, 0, 0);
	lease_set_deinit(&s);
}

Test(lease, busy_when_may_not_wait_leaves_set_unchanged)
{
	struct lease_set s;
	struct lease w, r, q, busy_r, busy_w;

	lease_set_init(&s);
	cr_assert_eq(request(&s, &w, 0, 10, true, true), LEASE_VERDICT_GRANTED);
	cr_assert_eq(request(&s, &q, 20, 10, true, true), LEASE_VERDICT_GRANTED);
	cr_assert_eq(request(&s, &r, 5, 10, false, true), LEASE_VERDICT_WAIT);
	assert_counts(&s, 0, 2, 1);

	/* Conflicts with a granted writer. */
	cr_assert_eq(request(&s, &busy_r, 0, 1, false, false), LEASE_VERDICT_BUSY);
	cr_assert_eq(busy_r.state, LEASE_UNLINKED);
	/* Conflicts with no granted lease, only with the waiting reader. */
	cr_assert_eq(request(&s, &busy_w, 12, 2, true, false), LEASE_VERDICT_BUSY);
	cr_assert_eq(busy_w.state, LEASE_UNLINKED);

	assert_counts(&s, 0, 2, 1);
	cr_assert_eq(TAILQ_FIRST(&s.waiting), &r);
	cr_assert_eq(TAILQ_NEXT(&r, link), NULL);
	cr_assert_eq(lease_set_granted_end(&s), 30);

	lease_set_remove(&s, &r);
	lease_set_remove(&s, &w);
	lease_set_remove(&s, &q);
	lease_set_deinit(&s);
}

Test(lease, fifo_later_readers_do_not_starve_a_waiting_writer)
{
	struct lease_set s;
	struct lease r1, w, r2;
	struct promoted p = {0};

	lease_set_init(&s);
	cr_assert_eq(request(&s, &r1, 0, 10, false, true), LEASE_VERDICT_GRANTED);
	assert_counts(&s, 1, 0, 0);
	cr_assert_eq(request(&s, &w, 0, 10, true, true), LEASE_VERDICT_WAIT);
	assert_counts(&s, 1, 0, 1);
	/* r2 would share with r1, but overlaps the waiting writer: it queues. */
	cr_assert_eq(request(&s, &r2, 5, 10, false, true), LEASE_VERDICT_WAIT);
	assert_counts(&s, 1, 0, 2);

	/* Nothing changed: promote grants nobody. */
	cr_assert_eq(lease_set_promote(&s, record_promoted, &p), 0);
	cr_assert_eq(p.n, 0);

	lease_set_remove(&s, &r1);
	cr_assert_eq(r1.state, LEASE_UNLINKED);
	assert_counts(&s, 0, 0, 2);
	cr_assert_eq(lease_set_promote(&s, record_promoted, &p), 1);
	cr_assert_eq(p.n, 1);
	cr_assert_eq(p.leases[0], &w);
	cr_assert_eq(w.state, LEASE_GRANTED);
	cr_assert_eq(r2.state, LEASE_WAITING);
	assert_counts(&s, 0, 1, 1);

	lease_set_remove(&s, &w);
	assert_counts(&s, 0, 0, 1);
	p.n = 0;
	cr_assert_eq(lease_set_promote(&s, record_promoted, &p), 1);
	cr_assert_eq(p.n, 1);
	cr_assert_eq(p.leases[0], &r2);
	cr_assert_eq(r2.state, LEASE_GRANTED);
	assert_counts(&s, 1, 0, 0);

	lease_set_remove(&s, &r2);
	assert_counts(&s, 0, 0, 0);
	lease_set_deinit(&s);
}

Test(lease, later_non_conflicting_waiter_passes_a_blocked_one)
{
	struct lease_set s;
	struct lease big, r, w_blocked, w_free, r_behind;
	struct promoted p = {0};

	lease_set_init(&s);
	/* A writer over [0,100) holds everything; two waiters queue behind it. */
	cr_assert_eq(request(&s, &big, 0, 100, true, true), LEASE_VERDICT_GRANTED);
	cr_assert_eq(request(&s, &r, 0, 10, false, true), LEASE_VERDICT_WAIT);
	cr_assert_eq(request(&s, &w_blocked, 5, 10, true, true), LEASE_VERDICT_WAIT);
	cr_assert_eq(request(&s, &w_free, 50, 10, true, true), LEASE_VERDICT_WAIT);
	cr_assert_eq(request(&s, &r_behind, 12, 3, false, true), LEASE_VERDICT_WAIT);
	assert_counts(&s, 0, 1, 4);

	/* big leaves: r is granted, w_blocked conflicts with r, w_free
	 * overlaps nobody and passes it, r_behind stays behind w_blocked. */
	lease_set_remove(&s, &big);
	cr_assert_eq(lease_set_promote(&s, record_promoted, &p), 2);
	cr_assert_eq(p.n, 2);
	cr_assert_eq(p.leases[0], &r);
	cr_assert_eq(p.leases[1], &w_free);
	cr_assert_eq(w_blocked.state, LEASE_WAITING);
	cr_assert_eq(r_behind.state, LEASE_WAITING);
	assert_counts(&s, 1, 1, 2);
	cr_assert_eq(TAILQ_FIRST(&s.waiting), &w_blocked);
	cr_assert_eq(TAILQ_NEXT(&w_blocked, link), &r_behind);

	lease_set_remove(&s, &r);
	p.n = 0;
	cr_assert_eq(lease_set_promote(&s, record_promoted, &p), 1);
	cr_assert_eq(p.leases[0], &w_blocked);
	assert_counts(&s, 0, 2, 1);

	lease_set_remove(&s, &w_blocked);
	lease_set_remove(&s, &w_free);
	p.n = 0;
	cr_assert_eq(lease_set_promote(&s, record_promoted, &p), 1);
	cr_assert_eq(p.leases[0], &r_behind);
	assert_counts(&s, 1, 0, 0);
	lease_set_remove(&s, &r_behind);
	lease_set_deinit(&s);
}

Test(lease, removing_a_waiter_lets_those_behind_it_go)
{
	struct lease_set s;
	struct lease r1, w, r2, r3;
	struct promoted p = {0};

	lease_set_init(&s);
	cr_assert_eq(request(&s, &r1, 0, 10, false, true), LEASE_VERDICT_GRANTED);
	cr_assert_eq(request(&s, &w, 0, 20, true, true), LEASE_VERDICT_WAIT);
	cr_assert_eq(request(&s, &r2, 5, 10, false, true), LEASE_VERDICT_WAIT);
	cr_assert_eq(request(&s, &r3, 15, 10, false, true), LEASE_VERDICT_WAIT);
	assert_counts(&s, 1, 0, 3);

	/* The writer times out or is cancelled while waiting. */
	lease_set_remove(&s, &w);
	cr_assert_eq(w.state, LEASE_UNLINKED);
	assert_counts(&s, 1, 0, 2);
	cr_assert_eq(lease_set_promote(&s, record_promoted, &p), 2);
	cr_assert_eq(p.leases[0], &r2);
	cr_assert_eq(p.leases[1], &r3);
	assert_counts(&s, 3, 0, 0);

	lease_set_remove(&s, &r1);
	lease_set_remove(&s, &r2);
	lease_set_remove(&s, &r3);
	cr_assert_eq(lease_set_promote(&s, record_promoted, &p), 0);
	assert_counts(&s, 0, 0, 0);
	lease_set_deinit(&s);
}

Test(lease, removing_the_last_waiter_keeps_the_queue_linked)
{
	struct lease_set s;
	struct lease g, a, b, c;

	lease_set_init(&s);
	cr_assert_eq(request(&s, &g, 0, 10, true, true), LEASE_VERDICT_GRANTED);
	cr_assert_eq(request(&s, &a, 0, 10, true, true), LEASE_VERDICT_WAIT);
	cr_assert_eq(request(&s, &b, 0, 10, true, true), LEASE_VERDICT_WAIT);
	lease_set_remove(&s, &b); /* tail */
	cr_assert_eq(request(&s, &c, 0, 10, true, true), LEASE_VERDICT_WAIT);
	cr_assert_eq(TAILQ_FIRST(&s.waiting), &a);
	cr_assert_eq(TAILQ_NEXT(&a, link), &c);
	cr_assert_eq(TAILQ_NEXT(&c, link), NULL);
	assert_counts(&s, 0, 1, 2);
	lease_set_remove(&s, &a); /* head */
	cr_assert_eq(TAILQ_FIRST(&s.waiting), &c);
	assert_counts(&s, 0, 1, 1);
	lease_set_remove(&s, &c);
	lease_set_remove(&s, &g);
	assert_counts(&s, 0, 0, 0);
	lease_set_deinit(&s);
}

Test(lease, promote_calls_back_exactly_for_the_granted_in_arrival_order)
{
	struct lease_set s;
	struct lease block, q[6];
	struct promoted p = {0};
	/* Waiters over [0,60): 0 W[0,10) 1 R[5,15) 2 R[20,30) 3 W[25,35) 4 R[40,50) 5 W[45,55) */
	static const struct { uint64_t off, len; bool write; } spec[6] = {
		{ 0, 10, true }, { 5, 10, false }, { 20, 10, false },
		{ 25, 10, true }, { 40, 10, false }, { 45, 10, true },
	};

	lease_set_init(&s);
	cr_assert_eq(request(&s, &block, 0, 60, true, true), LEASE_VERDICT_GRANTED);
	for (unsigned i = 0; i < 6; i++)
		cr_assert_eq(request(&s, &q[i], spec[i].off, spec[i].len, spec[i].write, true),
			     LEASE_VERDICT_WAIT);
	assert_counts(&s, 0, 1, 6);
	lease_set_remove(&s, &block);

	/* 0, 2 and 4 go; 1, 3 and 5 each conflict with the one before them. */
	cr_assert_eq(lease_set_promote(&s, record_promoted, &p), 3);
	cr_assert_eq(p.n, 3);
	cr_assert_eq(p.leases[0], &q[0]);
	cr_assert_eq(p.leases[1], &q[2]);
	cr_assert_eq(p.leases[2], &q[4]);
	assert_counts(&s, 2, 1, 3);

	/* A second promote with nothing changed calls back for nobody. */
	p.n = 0;
	cr_assert_eq(lease_set_promote(&s, record_promoted, &p), 0);
	cr_assert_eq(p.n, 0);

	for (unsigned i = 0; i < 6; i += 2)
		lease_set_remove(&s, &q[i]);
	cr_assert_eq(lease_set_promote(&s, record_promoted, &p), 3);
	cr_assert_eq(p.leases[0], &q[1]);
	cr_assert_eq(p.leases[1], &q[3]);
	cr_assert_eq(p.leases[2], &q[5]);
	assert_counts(&s, 1, 2, 0);
	for (unsigned i = 1; i < 6; i += 2)
		lease_set_remove(&s, &q[i]);
	lease_set_deinit(&s);
}

Test(lease, granted_end_is_one_past_the_highest_granted_byte)
{
	struct lease_set s;
	struct lease a, b, c;

	lease_set_init(&s);
	cr_assert_eq(lease_set_granted_end(&s), 0);
	cr_assert_eq(request(&s, &a, 0, 10, false, true), LEASE_VERDICT_GRANTED);
	cr_assert_eq(lease_set_granted_end(&s), 10);
	cr_assert_eq(request(&s, &b, 100, 28, true, true), LEASE_VERDICT_GRANTED);
	cr_assert_eq(lease_set_granted_end(&s), 128);
	/* Waiters hold nothing yet: they do not count. */
	cr_assert_eq(request(&s, &c, 120, 1000, true, true), LEASE_VERDICT_WAIT);
	cr_assert_eq(lease_set_granted_end(&s), 128);
	lease_set_remove(&s, &b);
	cr_assert_eq(lease_set_granted_end(&s), 10);
	cr_assert_eq(lease_set_promote(&s, NULL, NULL), 1);
	cr_assert_eq(lease_set_granted_end(&s), 1120);
	lease_set_remove(&s, &c);
	lease_set_remove(&s, &a);
	cr_assert_eq(lease_set_granted_end(&s), 0);
	lease_set_deinit(&s);
}

Test(lease, huge_offsets_near_uint64_max_behave)
{
	struct lease_set s;
	struct lease top, last, below, all, far;

	lease_set_init(&s);
	/* [MAX-10, MAX) */
	cr_assert_eq(request(&s, &top, UINT64_MAX - 10, 10, true, true), LEASE_VERDICT_GRANTED);
	cr_assert_eq(lease_set_granted_end(&s), UINT64_MAX);
	/* [MAX-20, MAX-10) touches it without overlapping. */
	cr_assert_eq(request(&s, &below, UINT64_MAX - 20, 10, true, false), LEASE_VERDICT_GRANTED);
	cr_assert_not(lease_overlaps(&top, &below));
	/* [MAX-1, MAX) is the last byte of top. */
	lease_init(&last, UINT64_MAX - 1, 1, false);
	cr_assert(lease_overlaps(&top, &last));
	cr_assert(lease_overlaps(&last, &top));
	cr_assert_eq(lease_set_request(&s, &last, false), LEASE_VERDICT_BUSY);
	/* [0, MAX) covers everything. */
	cr_assert_eq(request(&s, &all, 0, UINT64_MAX, false, true), LEASE_VERDICT_WAIT);
	cr_assert(lease_overlaps(&all, &top));
	/* A reader far below overlaps only the waiting all-covering reader,
	 * and two readers do not conflict: it is granted. */
	cr_assert_eq(request(&s, &far, 0, 1, false, false), LEASE_VERDICT_GRANTED);
	cr_assert_not(lease_overlaps(&far, &top));
	assert_counts(&s, 1, 2, 1);

	lease_set_remove(&s, &top);
	cr_assert_eq(lease_set_granted_end(&s), UINT64_MAX - 10);
	cr_assert_eq(lease_set_promote(&s, NULL, NULL), 0); /* below still blocks all */
	lease_set_remove(&s, &below);
	cr_assert_eq(lease_set_promote(&s, NULL, NULL), 1);
	cr_assert_eq(lease_set_granted_end(&s), UINT64_MAX);
	assert_counts(&s, 2, 0, 0);
	lease_set_remove(&s, &all);
	lease_set_remove(&s, &far);
	lease_set_deinit(&s);
}

/*
 * Randomized model check: a brute-force reference over slots with explicit
 * arrival numbers, written without the module's lists, compared with the
 * module after every step on a 64-byte address space.
 */
enum { MODEL_SLOTS = 24, MODEL_SPACE = 64, MODEL_STEPS = 5000 };

enum model_state { M_FREE, M_GRANTED, M_WAITING };

struct slot {
	struct lease l;
	enum model_state m;
	uint64_t arrival; /* when it joined the wait queue */
};

struct model {
	struct lease_set set;
	struct slot slots[MODEL_SLOTS];
	uint64_t arrivals;
	uint64_t rng;
};

static uint64_t model_rand(struct model *md)
{
	/* xorshift64: fixed sequence on every platform. */
	md->rng ^= md->rng << 13;
	md->rng ^= md->rng >> 7;
	md->rng ^= md->rng << 17;
	return md->rng;
}

static bool ref_conflicts(const struct lease *a, const struct lease *b)
{
	return (a->write || b->write) && a->offset < b->offset + b->length && b->offset < a->offset + a->length;
}

/* Is slot i blocked by a granted slot, or by a slot that arrived earlier and is still waiting? */
static bool ref_blocked(const struct model *md, unsigned i)
{
	for (unsigned j = 0; j < MODEL_SLOTS; j++) {
		const struct slot *o = &md->slots[j];

		if (j == i || !ref_conflicts(&md->slots[i].l, &o->l))
			continue;
		if (o->m == M_GRANTED)
			return true;
		if (o->m == M_WAITING && o->arrival < md->slots[i].arrival)
			return true;
	}
	return false;
}

static void model_check(const struct model *md, bool after_promote)
{
	uint32_t reads = 0, writes = 0, waiting = 0;
	uint64_t end = 0, last_arrival = 0;
	const struct lease *l;

	for (unsigned i = 0; i < MODEL_SLOTS; i++) {
		const struct slot *sl = &md->slots[i];
		static const enum lease_state expect[] = {
			[M_FREE] = LEASE_UNLINKED, [M_GRANTED] = LEASE_GRANTED, [M_WAITING] = LEASE_WAITING,
		};

		cr_assert_eq(sl->l.state, expect[sl->m], "slot %u: state %d, model %d", i, sl->l.state, sl->m);
		if (sl->m == M_GRANTED) {
			if (sl->l.write)
				writes++;
			else
				reads++;
			if (sl->l.offset + sl->l.length > end)
				end = sl->l.offset + sl->l.length;
			for (unsigned j = i + 1; j < MODEL_SLOTS; j++) {
				if (md->slots[j].m == M_GRANTED)
					cr_assert_not(ref_conflicts(&sl->l, &md->slots[j].l),
						      "granted slots %u and %u conflict", i, j);
			}
		} else if (sl->m == M_WAITING) {
			waiting++;
			/* FIFO rule: after promote nobody who could go is left waiting. */
			if (after_promote)
				cr_assert(ref_blocked(md, i), "slot %u could be granted but waits", i);
		}
	}
	assert_counts(&md->set, reads, writes, waiting);
	cr_assert_eq(lease_set_granted_end(&md->set), end);
	cr_assert_eq(list_length(&md->set.granted), reads + writes);
	/* The wait queue is in arrival order and holds exactly the model's waiters. */
	TAILQ_FOREACH(l, &md->set.waiting, link) {
		const struct slot *sl = (const struct slot *)((const char *)l - offsetof(struct slot, l));

		cr_assert_eq(sl->m, M_WAITING);
		cr_assert_gt(sl->arrival, last_arrival, "wait queue out of arrival order");
		last_arrival = sl->arrival;
	}
}

Test(lease, random_steps_match_a_brute_force_model)
{
	static struct model md; /* static: zeroed, and large for a stack */
	size_t n_granted = 0, n_wait = 0, n_busy = 0, n_promoted = 0, n_removed = 0;

	md.rng = 0x5eed1ea5e5u;
	lease_set_init(&md.set);
	for (unsigned i = 0; i < MODEL_SLOTS; i++)
		lease_init(&md.slots[i].l, 0, 1, false);

	for (unsigned step = 0; step < MODEL_STEPS; step++) {
		uint64_t op = model_rand(&md) % 100;
		unsigned i = model_rand(&md) % MODEL_SLOTS;
		bool after_promote = false;

		if (op < 45 && md.slots[i].m == M_FREE) {
			struct slot *sl = &md.slots[i];
			uint64_t offset = model_rand(&md) % MODEL_SPACE;
			uint64_t length = 1 + model_rand(&md) % (MODEL_SPACE - offset);
			bool write = model_rand(&md) % 3 == 0;
			bool may_wait = model_rand(&md) % 4 != 0;
			bool conflict = false;
			enum lease_verdict v;

			lease_init(&sl->l, offset, length, write);
			for (unsigned j = 0; j < MODEL_SLOTS; j++) {
				if (md.slots[j].m != M_FREE && ref_conflicts(&sl->l, &md.slots[j].l))
					conflict = true;
			}
			v = lease_set_request(&md.set, &sl->l, may_wait);
			if (!conflict) {
				cr_assert_eq(v, LEASE_VERDICT_GRANTED, "step %u", step);
				sl->m = M_GRANTED;
				n_granted++;
			} else if (may_wait) {
				cr_assert_eq(v, LEASE_VERDICT_WAIT, "step %u", step);
				sl->m = M_WAITING;
				sl->arrival = ++md.arrivals;
				n_wait++;
			} else {
				cr_assert_eq(v, LEASE_VERDICT_BUSY, "step %u", step);
				n_busy++;
			}
		} else if (op < 80 && md.slots[i].m != M_FREE) {
			lease_set_remove(&md.set, &md.slots[i].l);
			md.slots[i].m = M_FREE;
			n_removed++;
		} else if (op >= 80) {
			struct promoted p = {0};
			struct lease *expect[MODEL_SLOTS];
			size_t n_expect = 0;

			unsigned order[MODEL_SLOTS], n_order = 0;

			/* Reference: sort the waiters by arrival, then grant in that
			 * order whoever is not blocked by what is granted so far. */
			for (unsigned j = 0; j < MODEL_SLOTS; j++) {
				unsigned k;

				if (md.slots[j].m != M_WAITING)
					continue;
				for (k = n_order++; k > 0 && md.slots[order[k - 1]].arrival > md.slots[j].arrival; k--)
					order[k] = order[k - 1];
				order[k] = j;
			}
			for (unsigned k = 0; k < n_order; k++) {
				if (!ref_blocked(&md, order[k])) {
					md.slots[order[k]].m = M_GRANTED;
					expect[n_expect++] = &md.slots[order[k]].l;
				}
			}
			cr_assert_eq(lease_set_promote(&md.set, record_promoted, &p), n_expect, "step %u", step);
			cr_assert_eq(p.n, n_expect);
			for (size_t k = 0; k < n_expect; k++)
				cr_assert_eq(p.leases[k], expect[k], "step %u: promotion %zu out of order", step, k);
			n_promoted += n_expect;
			after_promote = true;
		}
		model_check(&md, after_promote);
	}

	/* Every path was exercised, so the check above means something. */
	cr_assert_gt(n_granted, 200);
	cr_assert_gt(n_wait, 200);
	cr_assert_gt(n_busy, 50);
	cr_assert_gt(n_promoted, 100);
	cr_assert_gt(n_removed, 500);

	for (unsigned i = 0; i < MODEL_SLOTS; i++) {
		if (md.slots[i].m != M_FREE) {
			lease_set_remove(&md.set, &md.slots[i].l);
			md.slots[i].m = M_FREE;
		}
	}
	cr_assert_eq(lease_set_promote(&md.set, NULL, NULL), 0);
	model_check(&md, true);
	lease_set_deinit(&md.set);
}

Test(lease, blocker_is_the_first_held_conflict_else_the_first_waiter_ahead)
{
	struct lease_set s;
	struct lease r1, w, r2, busy, far;

	lease_set_init(&s);
	cr_assert_eq(request(&s, &r1, 0, 10, false, true), LEASE_VERDICT_GRANTED);
	cr_assert_eq(request(&s, &w, 0, 10, true, true), LEASE_VERDICT_WAIT);
	cr_assert_eq(request(&s, &r2, 5, 10, false, true), LEASE_VERDICT_WAIT);
	cr_assert_null(lease_set_blocker(&s, &r1), "a granted lease is blocked by nothing");
	cr_assert_eq(lease_set_blocker(&s, &w), &r1, "the writer waits for the held reader");
	cr_assert_eq(lease_set_blocker(&s, &r2), &w, "the reader shares with r1 but queues behind w");
	/* A refused request (not linked) names what it met: held leases first. */
	cr_assert_eq(request(&s, &busy, 8, 4, true, false), LEASE_VERDICT_BUSY);
	cr_assert_eq(lease_set_blocker(&s, &busy), &r1);
	cr_assert_eq(request(&s, &far, 100, 1, true, true), LEASE_VERDICT_GRANTED);
	cr_assert_null(lease_set_blocker(&s, &far));

	lease_set_remove(&s, &r1);
	cr_assert_null(lease_set_blocker(&s, &w), "nothing holds w up any more: it is next");
	lease_set_remove(&s, &w);
	lease_set_remove(&s, &r2);
	lease_set_remove(&s, &far);
	lease_set_deinit(&s);
}

/* ---- parked requests (ACQUIRE NEWER waiting for news) ---- */

Test(lease, a_parked_request_blocks_nobody)
{
	struct lease_set s;
	struct lease parked, w;

	lease_set_init(&s);
	lease_init(&parked, 0, 100, false);
	lease_set_park(&s, &parked);
	cr_assert_eq(parked.state, LEASE_PARKED);
	cr_assert_eq(s.n_parked, 1);
	cr_assert(!lease_set_is_empty(&s));
	/* A writer over the same range is granted at once: the parked reader is in no queue. */
	cr_assert_eq(request(&s, &w, 0, 100, true, false), LEASE_VERDICT_GRANTED);
	cr_assert_eq(lease_set_promote(&s, NULL, NULL), 0, "promote never grants a parked request");
	cr_assert_eq(parked.state, LEASE_PARKED);
	lease_set_remove(&s, &w);
	lease_set_remove(&s, &parked);
	cr_assert_eq(s.n_parked, 0);
	lease_set_deinit(&s);
}

Test(lease, an_unparked_request_queues_behind_earlier_waiters)
{
	struct lease_set s;
	struct lease held, w1, parked;
	struct promoted p = { .n = 0 };

	lease_set_init(&s);
	cr_assert_eq(request(&s, &held, 0, 100, false, true), LEASE_VERDICT_GRANTED);
	cr_assert_eq(request(&s, &w1, 0, 100, true, true), LEASE_VERDICT_WAIT);
	lease_init(&parked, 0, 100, false);
	lease_set_park(&s, &parked);
	/* News: it joins the tail, behind the writer, and waits for it like any reader. */
	lease_set_unpark(&s, &parked);
	cr_assert_eq(parked.state, LEASE_WAITING);
	assert_counts(&s, 1, 0, 2);
	lease_set_remove(&s, &held);
	lease_set_promote(&s, record_promoted, &p);
	cr_assert_eq(p.n, 1);
	cr_assert_eq(p.leases[0], &w1);
	lease_set_remove(&s, &w1);
	lease_set_promote(&s, record_promoted, &p);
	cr_assert_eq(p.n, 2);
	cr_assert_eq(p.leases[1], &parked);
	lease_set_remove(&s, &parked);
	lease_set_deinit(&s);
}
