/* demux.h: requests and their replies over the one socket, shared by threads
 * (leader/follower: one waiting thread reads for all). Private. */
#ifndef SHMBUF_DEMUX_H
#define SHMBUF_DEMUX_H

#define demux_call shmbuf__demux_call
#define demux_read_one shmbuf__demux_read_one
#define demux_reader_release shmbuf__demux_reader_release

#include "client.h"

/* Sends request m and waits for its reply, which replaces *m. Returns 0 when a
 * reply arrived (its status may still be an error), or a negative errno when
 * none will: the request was invalid, could not be sent, or the connection broke.
 * fd_out, when not NULL, receives the fd of a successful ACQUIRE reply (or -1). */
int demux_call(struct shmbuf_client *c, struct proto_msg *m, int *fd_out);

/* Called with c->lock held, as the reader (c->reader_active set by the
 * caller); returns with it held. Receives one datagram (without the lock) and
 * hands it to the call it answers, or to the event queue. */
void demux_read_one(struct shmbuf_client *c);

/* Called with c->lock held by the thread giving up the reader role. */
void demux_reader_release(struct shmbuf_client *c);

#endif
