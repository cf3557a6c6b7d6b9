/* SPDX-License-Identifier: MIT */
/* lease.c: range lease decisions and the FIFO wait queue of one segment. */
#include "lease.h"

#include <assert.h>

/*
 * Cost: every operation walks only this set's own lists. A request is one
 * pass over the granted and waiting leases; promote checks each waiter
 * against the granted leases and the waiters ahead of it, so it is
 * O(waiting * (granted + waiting)) for this one segment and independent of
 * every other segment. A read conflicts only with writes, so while a list
 * holds no write a read skips it: the common case of many readers (a
 * segment's 1000 held read leases) costs a read request O(1). An interval
 * tree would not make the FIFO rule (which must look at earlier waiters in
 * order) much cheaper, so plain lists it is.
 */

void lease_set_init(struct lease_set *s)
{
	TAILQ_INIT(&s->granted);
	TAILQ_INIT(&s->waiting);
	TAILQ_INIT(&s->parked);
	s->n_parked = 0;
	s->n_read = 0;
	s->n_write = 0;
	s->n_waiting = 0;
	s->n_waiting_write = 0;
}

void lease_set_deinit(struct lease_set *s)
{
	/* A lease still linked here would point into freed memory afterwards. */
	assert(lease_set_is_empty(s));
	assert(s->n_read == 0 && s->n_write == 0 && s->n_waiting == 0 && s->n_waiting_write == 0 &&
	       s->n_parked == 0);
	(void)s;
}

void lease_init(struct lease *l, uint64_t offset, uint64_t length, bool write)
{
	*l = (struct lease){
		.offset = offset,
		.length = length,
		.write = write,
		.state = LEASE_UNLINKED,
	};
}

bool lease_overlaps(const struct lease *a, const struct lease *b)
{
	/* Compare distances rather than ends so that no sum is ever formed:
	 * correct for ranges reaching up to UINT64_MAX as well. */
	if (a->offset >= b->offset)
		return a->offset - b->offset < b->length;
	return b->offset - a->offset < a->length;
}

bool lease_conflicts(const struct lease *a, const struct lease *b)
{
	return (a->write || b->write) && lease_overlaps(a, b);
}

static bool conflicts_with_granted(const struct lease_set *s, const struct lease *l)
{
	const struct lease *g;

	if (!l->write && s->n_write == 0)
		return false; /* a read meets only writes, and none is held */
	TAILQ_FOREACH(g, &s->granted, link) {
		if (lease_conflicts(l, g))
			return true;
	}
	return false;
}

/* Does l conflict with a waiter queued before stop (stop == NULL: any waiter)? */
static bool conflicts_with_waiting_before(const struct lease_set *s, const struct lease *l,
					  const struct lease *stop)
{
	const struct lease *w;

	if (!l->write && s->n_waiting_write == 0)
		return false; /* a read meets only writes, and none waits */
	TAILQ_FOREACH(w, &s->waiting, link) {
		if (w == stop)
			break;
		if (lease_conflicts(l, w))
			return true;
	}
	return false;
}

static void link_granted(struct lease_set *s, struct lease *l)
{
	TAILQ_INSERT_TAIL(&s->granted, l, link);
	l->state = LEASE_GRANTED;
	if (l->write)
		s->n_write++;
	else
		s->n_read++;
}

static void link_waiting(struct lease_set *s, struct lease *l)
{
	TAILQ_INSERT_TAIL(&s->waiting, l, link);
	l->state = LEASE_WAITING;
	s->n_waiting++;
	s->n_waiting_write += l->write;
}

enum lease_verdict lease_set_request(struct lease_set *s, struct lease *l, bool may_wait)
{
	uint64_t end;

	assert(l->state == LEASE_UNLINKED);
	assert(l->length > 0);
	assert(!__builtin_add_overflow(l->offset, l->length, &end));
	(void)end;

	/* Checking the waiters too is what keeps a stream of overlapping
	 * readers from starving a writer queued behind a granted reader. */
	if (!conflicts_with_granted(s, l) && !conflicts_with_waiting_before(s, l, NULL)) {
		link_granted(s, l);
		return LEASE_VERDICT_GRANTED;
	}
	if (!may_wait)
		return LEASE_VERDICT_BUSY;
	link_waiting(s, l);
	return LEASE_VERDICT_WAIT;
}

void lease_set_park(struct lease_set *s, struct lease *l)
{
	assert(l->state == LEASE_UNLINKED);
	TAILQ_INSERT_TAIL(&s->parked, l, link);
	l->state = LEASE_PARKED;
	s->n_parked++;
}

void lease_set_unpark(struct lease_set *s, struct lease *l)
{
	assert(l->state == LEASE_PARKED);
	TAILQ_REMOVE(&s->parked, l, link);
	s->n_parked--;
	link_waiting(s, l);
}

void lease_set_remove(struct lease_set *s, struct lease *l)
{
	switch (l->state) {
	case LEASE_PARKED:
		TAILQ_REMOVE(&s->parked, l, link);
		assert(s->n_parked > 0);
		s->n_parked--;
		break;
	case LEASE_GRANTED:
		TAILQ_REMOVE(&s->granted, l, link);
		if (l->write) {
			assert(s->n_write > 0);
			s->n_write--;
		} else {
			assert(s->n_read > 0);
			s->n_read--;
		}
		break;
	case LEASE_WAITING:
		TAILQ_REMOVE(&s->waiting, l, link);
		assert(s->n_waiting > 0);
		s->n_waiting--;
		s->n_waiting_write -= l->write;
		break;
	case LEASE_UNLINKED:
		assert(!"lease_set_remove: lease is not linked");
		return;
	}
	l->state = LEASE_UNLINKED;
}

size_t lease_set_promote(struct lease_set *s, void (*granted)(struct lease *l, void *ctx), void *ctx)
{
	struct lease *w, *next;
	size_t n = 0;

	/* Waiters granted in this pass leave the waiting list at once, so
	 * "earlier waiters still in the list" are exactly those still waiting
	 * after this pass's decisions so far, and later waiters are checked
	 * against the newly granted ones as well. */
	for (w = TAILQ_FIRST(&s->waiting); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if (conflicts_with_granted(s, w) || conflicts_with_waiting_before(s, w, w))
			continue;
		TAILQ_REMOVE(&s->waiting, w, link);
		s->n_waiting--;
		s->n_waiting_write -= w->write;
		link_granted(s, w);
		n++;
		if (granted != NULL)
			granted(w, ctx);
	}
	return n;
}

uint64_t lease_set_granted_end(const struct lease_set *s)
{
	const struct lease *g;
	uint64_t end = 0;

	TAILQ_FOREACH(g, &s->granted, link) {
		if (g->offset + g->length > end)
			end = g->offset + g->length;
	}
	return end;
}

bool lease_set_is_empty(const struct lease_set *s)
{
	return TAILQ_EMPTY(&s->granted) && TAILQ_EMPTY(&s->waiting) && TAILQ_EMPTY(&s->parked);
}

const struct lease *lease_set_blocker(const struct lease_set *s, const struct lease *l)
{
	const struct lease *o;

	if (l->state == LEASE_GRANTED)
		return NULL;
	TAILQ_FOREACH(o, &s->granted, link) {
		if (lease_conflicts(l, o))
			return o;
	}
	TAILQ_FOREACH(o, &s->waiting, link) {
		if (o == l)
			break;
		if (lease_conflicts(l, o))
			return o;
	}
	return NULL;
}
