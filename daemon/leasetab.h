/* SPDX-License-Identifier: MIT */
/* leasetab.h: the lease table a restart can read: every held lease as a fixed-size slot of a
 * file mapped MAP_SHARED (<state base>.leases), written with plain stores on grant and release.
 *
 * Why a mapped file and not journal lines: a grant and a release stay a few stores (no
 * system call, no allocation), and the page cache outlives the daemon's process, which is the
 * only crash the table must survive (the segments it names live in /dev/shm and go with an
 * operating-system crash too). A slot is written field by field and closed by a checksum of
 * its fields, stored last: a slot the daemon died in the middle of writing (its grant never
 * answered) fails the checksum and is ignored. */
#ifndef SHMBUFD_LEASETAB_H
#define SHMBUFD_LEASETAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One held lease, as recorded. */
struct leasetab_rec {
	uint64_t lease_id;
	uint64_t segment_id;
	uint64_t offset;
	uint64_t length;
	uint32_t pid;
	uint32_t uid;
	bool write;
};

struct leasetab_slot;
struct leasetab_hdr;

/* Owned by the server (srv->leasetab). */
struct leasetab {
	int fd;                    /* -1: no table (then nothing is recorded) */
	struct leasetab_hdr *hdr;  /* the mapping: header, then capacity slots */
	size_t map_len;
	uint32_t capacity;
	uint32_t *free_slots;      /* a stack of free slot numbers (1-based) */
	uint32_t n_free;
	uint32_t used;             /* slots holding a lease */
};

/* Open (or create) the table at path and map it. 0 or a negative errno; on failure
 * t->fd is -1 and every other call does nothing. */
int leasetab_open(struct leasetab *t, const char *path);
void leasetab_close(struct leasetab *t);

/* Call fn for every valid recorded lease: it returns true to keep the slot recorded (the
 * lease lives on, slot is its number), false to clear it. Slots left free go on the free
 * stack. Sets *max_id to the highest lease id ever handed out, as recorded. 0 or -ENOMEM. */
int leasetab_load(struct leasetab *t, bool (*fn)(const struct leasetab_rec *r, uint32_t slot, void *ctx),
		  void *ctx, uint64_t *max_id);

/* Record r; returns its slot (> 0), or 0 when it cannot be recorded (no table, no memory). */
uint32_t leasetab_put(struct leasetab *t, const struct leasetab_rec *r);
/* The lease in slot ended. */
void leasetab_clear(struct leasetab *t, uint32_t slot);
/* Lease ids up to id were handed out: a restart continues after it. */
void leasetab_note_id(struct leasetab *t, uint64_t id);

#endif
