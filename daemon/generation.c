/* SPDX-License-Identifier: MIT */
/* generation.c: the write-generation interval map of one segment. */
#include "generation.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void genmap_init(struct genmap *m)
{
	*m = (struct genmap){ 0 };
}

void genmap_deinit(struct genmap *m)
{
	free(m->v);
	*m = (struct genmap){ 0 };
}

/* Index of the first entry ending after pos (m->n if none): binary search. */
static uint32_t first_ending_after(const struct genmap *m, uint64_t pos)
{
	uint32_t lo = 0, hi = m->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].end <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t genmap_newest(const struct genmap *m, uint64_t offset, uint64_t length)
{
	uint64_t end = offset + length, newest = m->floor;

	for (uint32_t i = first_ending_after(m, offset); i < m->n && m->v[i].start < end; i++) {
		if (m->v[i].gen > newest)
			newest = m->v[i].gen;
	}
	return newest;
}

static bool reserve(struct genmap *m, uint32_t need)
{
	struct genrange *v;
	uint32_t cap;

	if (need <= m->cap)
		return true;
	cap = m->cap ? m->cap * 2 : 8;
	while (cap < need)
		cap *= 2;
	v = realloc(m->v, (size_t)cap * sizeof(*v));
	if (!v)
		return false;
	m->v = v;
	m->cap = cap;
	return true;
}

/* Merge entries i and i+1 (adjacent or not: the gap between them is taken
 * in) under the newer stamp. */
static void merge_pair(struct genmap *m, uint32_t i)
{
	struct genrange *a = &m->v[i], *b = &m->v[i + 1];

	a->end = b->end;
	if (b->gen > a->gen)
		a->gen = b->gen;
	memmove(b, b + 1, (size_t)(m->n - i - 2) * sizeof(*b));
	m->n--;
}

/* Over GENMAP_MAX: merge the pair whose newer stamp is the oldest. */
static void shrink_to_bound(struct genmap *m)
{
	while (m->n > GENMAP_MAX) {
		uint32_t best = 0;
		uint64_t best_gen = UINT64_MAX;

		for (uint32_t i = 0; i + 1 < m->n; i++) {
			uint64_t g = m->v[i].gen > m->v[i + 1].gen ? m->v[i].gen : m->v[i + 1].gen;

			if (g < best_gen) {
				best_gen = g;
				best = i;
			}
		}
		merge_pair(m, best);
	}
}

/* Merge entry i with its neighbours when they touch it and share its stamp. */
static void coalesce_at(struct genmap *m, uint32_t i)
{
	if (i + 1 < m->n && m->v[i].end == m->v[i + 1].start && m->v[i].gen == m->v[i + 1].gen)
		merge_pair(m, i);
	if (i > 0 && m->v[i - 1].end == m->v[i].start && m->v[i - 1].gen == m->v[i].gen)
		merge_pair(m, i - 1);
}

void genmap_record(struct genmap *m, uint64_t offset, uint64_t length, uint64_t gen)
{
	uint64_t end = offset + length;
	uint32_t i, j;
	struct genrange head = { 0 }, tail = { 0 };
	bool has_head = false, has_tail = false;

	if (!reserve(m, m->n + 2)) {
		/* Out of memory: everything looks written now. */
		m->floor = gen;
		m->n = 0;
		return;
	}
	/* Entries [i, j) overlap the new range; keep what sticks out of it. */
	i = first_ending_after(m, offset);
	for (j = i; j < m->n && m->v[j].start < end; j++)
		;
	if (i < j && m->v[i].start < offset) {
		head = (struct genrange){ m->v[i].start, offset, m->v[i].gen };
		has_head = true;
	}
	if (i < j && m->v[j - 1].end > end) {
		tail = (struct genrange){ end, m->v[j - 1].end, m->v[j - 1].gen };
		has_tail = true;
	}
	{
		uint32_t add = 1 + has_head + has_tail;

		memmove(&m->v[i + add], &m->v[j], (size_t)(m->n - j) * sizeof(m->v[0]));
		m->n = m->n - (j - i) + add;
	}
	if (has_head)
		m->v[i++] = head;
	m->v[i] = (struct genrange){ offset, end, gen };
	if (has_tail)
		m->v[i + 1] = tail;
	coalesce_at(m, i);
	shrink_to_bound(m);
}

void genmap_truncate(struct genmap *m, uint64_t size)
{
	uint32_t i = first_ending_after(m, size);

	if (i < m->n && m->v[i].start < size) {
		m->v[i].end = size;
		i++;
	}
	m->n = i;
}
