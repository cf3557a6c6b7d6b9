/* SPDX-License-Identifier: MIT */
/* mapper.h: which clients were sent an fd of which segment, per mode ("mappers"). A client
 * keeps the fd and its mapping across leases, so the memory of a destroyed segment is alive
 * until each mapper has said it let go (UNMAP) or closed: mappers keep it counted, and are
 * told (UNMAP, seq 0) once no lease is left on it. */
#ifndef SHMBUFD_MAPPER_H
#define SHMBUFD_MAPPER_H

#include <stdint.h>
#include <sys/queue.h>
#include <uthash.h>

#include "client.h"
#include "segment.h"
#include "server.h"

/* Key of server->mappers: no padding, so it hashes as bytes. */
struct mapper_key {
	uint64_t segment_id;
	uint64_t client_id;
};

/* Owned by the server from mapper_add() until the last of its modes is
 * dropped; linked into its segment (seg->mappers, counted in seg->n_mappers)
 * and its client (cl->mappers). */
struct mapper {
	struct mapper_key key;
	struct segment *seg;
	struct client *cl;
	uint32_t modes; /* PROTO_ACQ_READ | PROTO_ACQ_WRITE: the fds sent */
	TAILQ_ENTRY(mapper) seg_link;
	TAILQ_ENTRY(mapper) client_link;
	UT_hash_handle hh; /* server->mappers */
};

/* cl is being sent seg's fd of mode (PROTO_ACQ_READ or _WRITE). Returns 1 when
 * that mode is new for cl, 0 when cl was a mapper of it already, -ENOMEM. */
int mapper_add(struct client *cl, struct segment *seg, uint32_t mode);

/* cl's mapper of the segment with this id, or NULL. */
struct mapper *mapper_find(struct client *cl, uint64_t segment_id);

/* Forget modes of m; when none is left, m is freed. Returns m's segment
 * when it lost a mapper (the caller settles it: a destroyed one may go),
 * else NULL. */
struct segment *mapper_drop(struct mapper *m, uint32_t modes);

/* cl is going away: drop its first mapper entirely and return that segment
 * (to be settled), or NULL when cl is a mapper of nothing. */
struct segment *mapper_drop_first(struct client *cl);

/* seg is destroyed and no lease is left on it: send each of its mappers an
 * UNMAP (seq 0), once in seg's life. */
void mapper_send_unmap(struct segment *seg);

/* Names (in buf, cap bytes) the clients holding seg's O_RDWR fd, for a warning. */
void mapper_describe_writers(const struct segment *seg, char *buf, size_t cap);

/* seg's mode or owner changed: ask (UNMAP, seq 0) each mapper that holds an
 * fd of a mode it may no longer acquire to close its fds of seg. Cooperative:
 * libshmbuf lets go once its views of seg are released; the kernel cannot
 * take an fd back from a client that does not. */
void mapper_ask_unmap_lost(struct segment *seg);

#endif
