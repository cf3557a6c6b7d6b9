/* SPDX-License-Identifier: MIT */
/* orphan.h: leases held before a restart ("orphans"): read back from the lease table, held
 * by nobody, conflicting like any held lease until reclaimed (RECLAIM), their holder is known
 * dead (kill(pid, 0) fails with ESRCH), or the grace period ends. */
#ifndef SHMBUFD_ORPHAN_H
#define SHMBUFD_ORPHAN_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

struct server;
struct client;

/* What became of the leases a start found recorded (for STATUS and the logs). */
struct orphan_counts {
	uint32_t recorded;  /* held before the restart, on segments that came back */
	uint32_t left;      /* still orphans */
	uint32_t reclaimed; /* taken back by their holder */
	uint32_t lost;      /* freed: segment gone, holder dead, or grace over */
	bool in_grace;
	uint64_t grace_left_ms; /* while in grace */
};

/* At start, after the segments are restored: open the lease table beside the state record,
 * adopt the recorded leases of segments that came back as orphans, and start the grace
 * period (cfg.grace_ms) if any. 0 or a negative errno (only -ENOMEM stops the start). */
int orphan_init(struct server *srv);
/* At exit: orphans stay recorded for the next start; free what holds them here. */
void orphan_deinit(struct server *srv);

/* RECLAIM: make the orphan r names cl's lease again. PROTO_OK, or the status to answer
 * (NOENT: no such orphan of cl's process; STALE: its segment did not come back; INVAL). */
enum proto_status orphan_reclaim(struct client *cl, const struct proto_reclaim *r, const char **why);

void orphan_counts(const struct server *srv, struct orphan_counts *out);

#endif
