/* SPDX-License-Identifier: MIT */
/* idtable.c: the id table: linear probing with backward-shift deletion (no
 * tombstones); at most half full, so a probe always meets an empty slot. */
#include "idtable.h"

#include <errno.h>
#include <stdlib.h>

static size_t idtable_home(const struct idtable *t, uint64_t key)
{
	/* splitmix64's finaliser: lease ids and seqs are sequential, spread them. */
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ull;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebull;
	key ^= key >> 31;
	return (size_t)key & t->mask;
}

struct idtable_slot *idtable_find(const struct idtable *t, uint64_t key)
{
	if (!t->slots)
		return NULL;
	for (size_t i = idtable_home(t, key);; i = (i + 1) & t->mask) {
		if (!t->slots[i].used)
			return NULL;
		if (t->slots[i].key == key)
			return &t->slots[i];
	}
}

static void idtable_place(struct idtable *t, struct idtable_slot s)
{
	size_t i = idtable_home(t, s.key);

	while (t->slots[i].used)
		i = (i + 1) & t->mask;
	t->slots[i] = s;
}

int idtable_insert(struct idtable *t, uint64_t key, void *ptr, size_t len)
{
	if (idtable_find(t, key))
		return -EEXIST;
	if (!t->slots || (t->count + 1) * 2 > t->mask + 1) {
		size_t cap = t->slots ? (t->mask + 1) * 2 : 16;
		struct idtable_slot *old = t->slots;
		size_t old_cap = t->slots ? t->mask + 1 : 0;

		t->slots = calloc(cap, sizeof(*t->slots));
		if (!t->slots) {
			t->slots = old;
			return -ENOMEM;
		}
		t->mask = cap - 1;
		for (size_t i = 0; i < old_cap; i++)
			if (old[i].used)
				idtable_place(t, old[i]);
		free(old);
	}
	idtable_place(t, (struct idtable_slot){ .key = key, .ptr = ptr, .len = len, .used = true });
	t->count++;
	return 0;
}

void idtable_remove(struct idtable *t, struct idtable_slot *s)
{
	size_t hole = (size_t)(s - t->slots);

	/* Pull later members of the probe run back into the hole, unless that
	 * would move one in front of its home slot. */
	for (size_t j = (hole + 1) & t->mask; t->slots[j].used; j = (j + 1) & t->mask) {
		size_t home = idtable_home(t, t->slots[j].key);

		if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
			t->slots[hole] = t->slots[j];
			hole = j;
		}
	}
	t->slots[hole].used = false;
	t->count--;
}

void idtable_clear(struct idtable *t, idtable_entry_fn *fn, void *arg)
{
	for (size_t i = 0; t->slots && i <= t->mask; i++) {
		if (t->slots[i].used) {
			t->slots[i].used = false;
			if (fn)
				fn(arg, t->slots[i].key, t->slots[i].ptr, t->slots[i].len);
		}
	}
	t->count = 0;
}

void idtable_deinit(struct idtable *t)
{
	free(t->slots);
	*t = (struct idtable){ 0 };
}
