/* SPDX-License-Identifier: MIT */
/* mapcache.h: kept mappings. Per (segment name, mode) the client keeps the
 * segment's fd and a mapping of the whole object, so a lease is a pointer into
 * memory that is already mapped (and already faulted in) and an fd crosses the
 * socket once per segment and mode (docs/protocol.md section 8). Private; not
 * thread-safe: every function here is called with the client's lock held,
 * except mapcache_garbage_free() and mapcache_deinit(). */
#ifndef SHMBUF_MAPCACHE_H
#define SHMBUF_MAPCACHE_H

#define mapcache_init shmbuf__mapcache_init
#define mapcache_deinit shmbuf__mapcache_deinit
#define mapcache_claim shmbuf__mapcache_claim
#define mapcache_unclaim shmbuf__mapcache_unclaim
#define mapcache_attach shmbuf__mapcache_attach
#define mapcache_view_end shmbuf__mapcache_view_end
#define mapcache_segment_gone shmbuf__mapcache_segment_gone
#define mapcache_name_gone shmbuf__mapcache_name_gone
#define mapcache_take_garbage shmbuf__mapcache_take_garbage
#define mapcache_garbage_free shmbuf__mapcache_garbage_free

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Entries (segment name and mode, each with an fd) a client keeps at most while
 * none of them is in use; past it the least recently used unused one goes. Only
 * entries in use (a view or an acquire in flight) can push the count past it. */
#define SHMBUF__CACHE_MAX 64

/* Buckets of the (name, mode) index: a power of two, twice the bound. */
#define MAPCACHE_BUCKETS (2 * SHMBUF__CACHE_MAX)

struct mc_entry;

/* One mmap() of a whole segment object, [base, base + len). Owned by its
 * entry (entry->maps, newest first), or by a garbage list once unused. */
struct mc_map {
	struct mc_map *next;
	struct mc_entry *entry;
	void *base;
	size_t len;
	unsigned views;     /* live views pointing into it */
};

/* A kept segment of one mode. Owned by the cache from creation until it is
 * retired and unpinned; then by a garbage list, which frees it. */
struct mc_entry {
	struct mc_entry *hnext;              /* bucket chain, while is_live */
	struct mc_entry *lru_prev, *lru_next; /* the LRU list (live, pins == 0), or the retired list */
	struct mc_entry *gnext;              /* garbage list */
	struct mc_map *maps;                 /* newest first; owned */
	uint64_t segment_id;                 /* 0: a daemon that names no ids (owes no UNMAP) */
	uint64_t ino, dev;                   /* the object, to tell fds apart when segment_id is 0 */
	int fd;                              /* owned; -1 in an UNMAP-only garbage record */
	uint32_t mode;                       /* PROTO_ACQ_READ or PROTO_ACQ_WRITE */
	unsigned pins;                       /* views + acquires in flight that claimed it */
	bool is_live;                        /* found by name; false once retired */
	bool owes_unmap;                     /* the daemon counts us as a mapper of (segment_id, mode) */
	char name[PROTO_NAME_MAX + 1];
};

/* What retiring left to do outside the lock: munmap, close, and tell the
 * daemon (UNMAP) for every entry that owes it. */
struct mc_garbage {
	struct mc_entry *entries;
	struct mc_map *maps;
};

/* Owned by its client. Zero-initialised plus mapcache_init() is empty. */
struct mapcache {
	struct mc_entry *buckets[MAPCACHE_BUCKETS];
	struct mc_entry *lru_head, *lru_tail; /* most recently used first; unpinned live entries */
	unsigned count;                       /* entries holding an fd: live ones and retired pinned ones */
	struct mc_garbage garbage;            /* retired, waiting for mapcache_take_garbage() */
	struct mc_entry *retired_head, *retired_tail; /* retired but still pinned */
};

void mapcache_init(struct mapcache *mc);

/* Unmaps and closes everything (disconnect); sends nothing. */
void mapcache_deinit(struct mapcache *mc);

/* The live entry for (name, mode), pinned for an acquire about to be sent, or
 * NULL. Its segment_id is what the ACQUIRE claims (have_segment_id). */
struct mc_entry *mapcache_claim(struct mapcache *mc, const char *name, uint32_t mode);

/* Drops a claim (NULL is ignored) whose acquire brought no view. */
void mapcache_unclaim(struct mapcache *mc, struct mc_entry *claim);

/* A granted acquire: reply a (checked by the caller: its range lies within
 * segment_size), fd the one that came with it (-1 none, FDIO_FD_LOST), claim
 * from mapcache_claim(). Finds or makes the entry and a mapping covering the
 * lease, pins it for the view and drops the claim. Consumes fd and claim.
 * Returns 0 with *out set, -EMFILE (the fd was lost), -EPROTO (no fd came for a
 * segment we do not hold), or mmap's error. */
int mapcache_attach(struct mapcache *mc, struct mc_entry *claim, const char *name,
		    const struct proto_acquire_reply *a, int fd, struct mc_map **out);

/* A view into map was released (or never handed out). */
void mapcache_view_end(struct mapcache *mc, struct mc_map *map);

/* The daemon's UNMAP: retire every entry of segment_id. */
void mapcache_segment_gone(struct mapcache *mc, uint64_t segment_id);

/* This client destroyed name: retire its entries now (both modes), so their
 * memory goes with their last view instead of waiting for the daemon's UNMAP. */
void mapcache_name_gone(struct mapcache *mc, const char *name);

/* Moves what is waiting to be freed into *g (empty when nothing is). */
void mapcache_take_garbage(struct mapcache *mc, struct mc_garbage *g);

/* Without the lock: unmaps and closes everything in g, calling unmap(arg,
 * segment_id, mode) for each entry that owes the daemon an UNMAP, after its
 * memory is unmapped. */
typedef void mapcache_unmap_fn(void *arg, uint64_t segment_id, uint32_t mode);
void mapcache_garbage_free(struct mc_garbage *g, mapcache_unmap_fn *unmap, void *arg);

#endif
