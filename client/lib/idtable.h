/* SPDX-License-Identifier: MIT */
/* idtable.h: u64 key -> (pointer, length), open addressing. libshmbuf keeps its
 * pending calls (by seq) and its live views (by lease id) in one each, so that
 * neither a reply nor a release scans a list. Not thread-safe: callers lock. */
#ifndef SHMBUF_IDTABLE_H
#define SHMBUF_IDTABLE_H

/* Prefixed for the sake of programs linking libshmbuf.a, as in proto.h. */
#define idtable_find shmbuf__idtable_find
#define idtable_insert shmbuf__idtable_insert
#define idtable_remove shmbuf__idtable_remove
#define idtable_clear shmbuf__idtable_clear
#define idtable_deinit shmbuf__idtable_deinit

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idtable_slot {
	uint64_t key;
	void *ptr;
	size_t len;
	uint64_t aux; /* the owner's (views: the lease's offset); 0 at insert */
	bool used;
};

/* Zero-initialised is empty. */
struct idtable {
	struct idtable_slot *slots; /* NULL until the first insert; owned */
	size_t mask;                /* capacity - 1; capacity is a power of two */
	size_t count;
};

/* The slot holding key, or NULL. Valid until the next insert or remove. */
struct idtable_slot *idtable_find(const struct idtable *t, uint64_t key);

/* Returns 0, -EEXIST when key is present, or -ENOMEM. */
int idtable_insert(struct idtable *t, uint64_t key, void *ptr, size_t len);

/* Removes the entry in slot s (from idtable_find). */
void idtable_remove(struct idtable *t, struct idtable_slot *s);

/* Empties the table, calling fn (when not NULL) once for each entry it held. */
typedef void idtable_entry_fn(void *arg, uint64_t key, void *ptr, size_t len);
void idtable_clear(struct idtable *t, idtable_entry_fn *fn, void *arg);

/* Frees the slots; the table is empty (and usable) again. */
void idtable_deinit(struct idtable *t);

#endif
