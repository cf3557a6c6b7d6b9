/* SPDX-License-Identifier: MIT */
/* generation.h: per-segment write generations: which generation last wrote each
 * part of a segment, as a small coalescing interval map.
 *
 * Pure: no sockets, no libuv. A segment counts the write leases that ended on
 * it (its generation); when one ends, genmap_record() stamps its range with
 * the new count. genmap_newest() answers "how new is this range": the highest
 * stamp over it, 0 when it was never written.
 *
 * Size: each record adds at most two entries (it may split one), and adjacent
 * entries of one generation merge. Past GENMAP_MAX entries the two adjacent
 * entries whose newer stamp is the oldest are merged under that newer stamp:
 * a range may then look newer than it is (a consumer of it wakes once too
 * often), never older (no news is ever missed). */
#ifndef SHMBUFD_GENERATION_H
#define SHMBUFD_GENERATION_H

#include <stdint.h>

#define GENMAP_MAX 1024u

/* [start, end) last written by generation gen. */
struct genrange {
	uint64_t start;
	uint64_t end;
	uint64_t gen;
};

/* Embedded in a segment. Entries sorted by start, not overlapping. Owned:
 * genmap_deinit() frees them. */
struct genmap {
	struct genrange *v;
	uint32_t n;
	uint32_t cap;
	uint64_t floor; /* every byte is at least this new (set when memory ran out) */
};

void genmap_init(struct genmap *m);
void genmap_deinit(struct genmap *m);

/* [offset, offset+length) was written by generation gen, newer than every
 * stamp in the map. length > 0, the sum does not overflow. Never fails: out of
 * memory, the whole map becomes one range stamped gen (newer, not older). */
void genmap_record(struct genmap *m, uint64_t offset, uint64_t length, uint64_t gen);

/* The newest stamp over [offset, offset+length), 0 if none. */
uint64_t genmap_newest(const struct genmap *m, uint64_t offset, uint64_t length);

/* The segment shrank to size: forget what lies past it. */
void genmap_truncate(struct genmap *m, uint64_t size);

#endif
