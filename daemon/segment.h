/* SPDX-License-Identifier: MIT */
/* segment.h: one shared-memory segment: its POSIX shm object, its two fds and its leases. */
#ifndef SHMBUFD_SEGMENT_H
#define SHMBUFD_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <uthash.h>

#include "generation.h"
#include "lease.h"
#include "proto.h"

#define SEGMENT_SHM_NAME_MAX 64

struct mapper;
TAILQ_HEAD(mapper_list, mapper);

/* Owned by the server: in server->segments (by name) while live; after destroy
 * only what still references it keeps it (grants and jobs in refs, clients it
 * sent an fd to in mappers), and the last one to go frees it. */
struct segment {
	uint64_t id; /* daemon-wide, increasing with creation; listing order */
	char name[PROTO_NAME_MAX + 1];
	char shm_name[SEGMENT_SHM_NAME_MAX]; /* "/shmbuf.<socket tag>.<random>.<n>" in /dev/shm */
	int fd_rw;  /* O_RDWR: handed to write leases, used for resize */
	int fd_ro;  /* O_RDONLY: handed to read leases; cannot be mapped writable */
	uint64_t size;
	uint32_t mode; /* permission bits asked for at create (enforced by a later change) */
	uid_t uid;     /* creator, from SO_PEERCRED */
	gid_t gid;
	pid_t pid;
	uint64_t created_ns; /* CLOCK_REALTIME */
	bool is_destroyed;    /* name removed; memory lives until refs and n_mappers drop to 0 */
	bool is_unsettled;    /* in server->unsettled: leases left, waiters to reconsider */
	bool is_pending;      /* its object is being created on a worker thread: not usable yet */
	bool is_growing;      /* memory for a larger size is being reserved on a worker thread */
	bool has_sent_unmap;  /* destroyed, unleased: its mappers were sent UNMAP (once) */
	bool is_sealed;       /* a memfd sealed against shrink and grow: no shm_name, fixed size */
	uint32_t refs;       /* grants (held or waiting) and grow jobs that point here */
	uint32_t n_mappers;  /* clients holding an fd of it (mappers): they keep its memory too */
	int watch_wd;        /* sizewatch.c's inotify watch of its object; 0: none */
	struct mapper_list mappers; /* owned by mapper.c */
	struct lease_set leases;
	uint64_t generation;   /* write leases ended on it so far */
	uint64_t news_checked; /* generation its parked waits were last checked at */
	struct genmap gens;    /* which generation last wrote which bytes */
	UT_hash_handle hh; /* server->segments, keyed by name */
	TAILQ_ENTRY(segment) order_link; /* server->all_segments, live or destroyed, by id */
	TAILQ_ENTRY(segment) unsettled_link; /* server->unsettled while unsettled */
};

/* A segment with its name and size, and no object yet. Returns 0, -ENOMEM or -EFBIG. */
int segment_alloc(const char *name, uint64_t size, struct segment **out);

/* Create the shm object shm_name (mode 0600, O_EXCL), size it, optionally
 * reserve its memory (so an exhausted /dev/shm fails here with -ENOSPC rather
 * than as SIGBUS in a client later), and open its read-only twin.
 * Returns 0 or a negative errno (-EEXIST: the name is taken by someone else);
 * on failure nothing is left behind. Touches only seg, so it may run on a
 * worker thread while the loop leaves seg alone. */
int segment_open(struct segment *seg, const char *shm_name, bool prealloc);

/* /dev/shm is writable by every local user: object names are unguessable (a
 * random part per run), and should one be taken anyway the next is tried. */
#define SEGMENT_NAME_TRIES 8

/* segment_open() under the first free name of "<prefix><instance>.<n>" for n
 * from first, up to SEGMENT_NAME_TRIES names; for a sealed segment, a memfd
 * sealed against shrinking and growing instead. Returns 0 or a negative errno.
 * Touches only seg: may run on a worker thread. */
int segment_open_fresh(struct segment *seg, const char *prefix, uint64_t instance, uint64_t first, bool prealloc);

/* Remove the object's name from /dev/shm. Open fds and mappings keep the memory. */
void segment_unlink(struct segment *seg);

/* Close the fds (unlinking first if still linked) and free. */
void segment_free(struct segment *seg);

/* Reserve the memory of [from, to) of the object behind fd without changing
 * its size, so a later segment_resize() to `to` with prealloc false is quick.
 * Touches nothing but fd: may run on a worker thread. 0 or a negative errno. */
int segment_reserve_beyond(int fd, uint64_t from, uint64_t to);

/* Change the size of the object. Returns 0 or a negative errno; on failure
 * the size is unchanged. */
int segment_resize(struct segment *seg, uint64_t size, bool prealloc);

/* A writable fd lets a client ftruncate or fallocate the object behind our
 * back. Compare the object's size and allocation with ours and put them back
 * if they changed (a range cut and grown back is a hole, not reserved again).
 * Returns 0 when all was right, 1 when it was restored, or a negative errno. */
int segment_restore_size(struct segment *seg, uint64_t *found_size);

bool segment_is_leased(const struct segment *seg);

#endif
