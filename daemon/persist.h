/* SPDX-License-Identifier: MIT */
/* persist.h: the state record: the live segments written to <state dir>/shmbufd.<tag>.state
 * so that a restarted daemon (after SIGTERM or kill -9) adopts them again. */
#ifndef SHMBUFD_PERSIST_H
#define SHMBUFD_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"
#include "segment.h"

struct server;

/* One segment as recorded. */
struct persist_rec {
	uint64_t id;
	char shm_name[SEGMENT_SHM_NAME_MAX]; /* "/shmbuf.<tag>.<instance>.<n>" */
	uint64_t size;
	uint32_t mode;
	uid_t uid;
	gid_t gid;
	uint64_t created_ns;
	char name[PROTO_NAME_MAX + 1];
};

/* A whole record, as read back. Owned by whoever called persist_read(). */
struct persist_state {
	uint64_t next_segment_id;
	uint64_t starts; /* how many times a daemon has started on this record */
	size_t n;
	struct persist_rec *recs;
	bool is_suspect; /* its journal ends in a line cut short: objects it does not name are kept */
};

/* Set srv->state_path (the records' base, "<dir>/shmbufd.<tag>") from cfg.state_dir
 * (default: "state" beside the socket) and make the directory (0700) if missing.
 * 0 or a negative errno. */
int persist_init(struct server *srv);

/* Write every live segment to a new record, <base>.<seq + 1>.state, then remove the
 * previous one, so a crash at any instant leaves a whole record. 0 or a negative errno
 * (logged). */
int persist_save(struct server *srv);

/* A segment came, changed (size; mode, owner, group) or went: write the record again (and,
 * for a new or a destroyed segment, tell systemd's fd store), before the client is answered.
 * A sealed segment (a memfd: no object to adopt by name) is not recorded: its creation only
 * moves the record's next-segment-id, so ids stay unique across a restart, and it is gone
 * after one (docs/design.md, "Sealed segments and restarts"). */
void persist_segment_created(struct server *srv, const struct segment *seg);
void persist_segment_changed(struct server *srv, const struct segment *seg);
void persist_segment_owner_changed(struct server *srv, const struct segment *seg);
void persist_segment_destroyed(struct server *srv, const struct segment *seg);

/* At start: the newest whole record of srv (older ones are removed, a torn newest one
 * too when an older one is whole, torn ones with no whole one set aside as .corrupt);
 * sets srv->state_seq. 0, -ENOENT (none), -EBADMSG (none whole), -ENOMEM. */
int persist_load(struct server *srv, struct persist_state *st);

/* Close the journal's file (at exit). */
void persist_deinit(struct server *srv);
/* Let go of the record's lock (persist_init() takes it): at exit, after persist_deinit(). */
void persist_unlock(struct server *srv);

/* Read the record at path (its journal applied). 0; -ENOENT when there is none; -EBADMSG when it is
 * torn or not ours (bad header, a line that does not parse, wrong count or
 * checksum); -ENOMEM. On success free st with persist_state_free(). */
int persist_read(const char *path, struct persist_state *st);
void persist_state_free(struct persist_state *st);

/* The text of a record (for tests and persist_save): malloc'd, its length in *len. */
char *persist_format(const struct persist_state *st, size_t *len);

#endif
