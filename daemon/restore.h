/* SPDX-License-Identifier: MIT */
/* restore.h: at start, adopt the segments a previous run left (named by the state record,
 * kept by systemd's fd store) and remove only the objects nobody can account for. */
#ifndef SHMBUFD_RESTORE_H
#define SHMBUFD_RESTORE_H

struct server;

/* Fill srv->segments from the record and the fd store (or, with cfg.fresh, start empty),
 * then write the record anew. 0 or a negative errno (only for what makes starting pointless:
 * out of memory, an unwritable state directory). */
int restore_segments(struct server *srv);

#endif
