/* SPDX-License-Identifier: MIT */
/* reconnect.h: libshmbuf reconnecting by itself after the daemon restarts: a new socket,
 * HELLO, RECLAIM of every view still held, releases that may have been lost done again,
 * and the requests still waiting sent again. Private. */
#ifndef SHMBUF_RECONNECT_H
#define SHMBUF_RECONNECT_H

#define reconnect_init shmbuf__reconnect_init
#define reconnect_run shmbuf__reconnect_run
#define reconnect_note_release shmbuf__reconnect_note_release
#define reconnect_confirm shmbuf__reconnect_confirm

#include "client.h"

/* At connect: read SHMBUF_RECONNECT (0, no, off, false: never reconnect) and
 * SHMBUF_RECONNECT_TIMEOUT (seconds a reconnect may take, default 30). */
void reconnect_init(struct shmbuf_client *c);

/* Called with c->lock held by the reader, whose read found the connection gone; returns
 * with it held. Returns true when a new connection took its place (pending calls were sent
 * again on it, and their answers will come), false when none could be made in time (the
 * caller then breaks the client). */
bool reconnect_run(struct shmbuf_client *c);

/* Called with c->send_lock and c->lock held, right after RELEASE rec went out. */
void reconnect_note_release(struct shmbuf_client *c, const struct relrec *rec);

/* Called with c->lock held: a reply came to a request sent as datagram send_no, so every
 * earlier RELEASE was done (the daemon handles a connection's requests in order). */
void reconnect_confirm(struct shmbuf_client *c, uint64_t send_no);

#endif
