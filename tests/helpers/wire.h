/* SPDX-License-Identifier: MIT */
/* wire.h: a client speaking the wire protocol by hand, for the suites that test the daemon on
 * raw sockets (test_kept_fds, test_reclaim): requests built with proto_encode() (or patched
 * after it, for what it refuses to encode), replies read with their fd and checked. Every
 * failure fails the test. Link the proto objects ($<TARGET_OBJECTS:shmbuf_proto>). */
#ifndef SHMBUF_TEST_WIRE_H
#define SHMBUF_TEST_WIRE_H

#include <stdint.h>

#include "proto.h"

/* How long a reply may take before the test fails. */
#define WIRE_REPLY_TIMEOUT_MS 5000

/* A connected socket to the test's daemon, before HELLO. */
int wire_connect(void);

/* Send m, with the u32 at payload offset patch_at (if >= 0) then set to patch:
 * proto_encode() is strict, so bad flags are written by hand. */
void wire_request_patched(int s, struct proto_msg *m, int patch_at, uint32_t patch);

/* Send m as proto_encode() makes it. */
void wire_request(int s, struct proto_msg *m);

/* The next message within WIRE_REPLY_TIMEOUT_MS, decoded; *fd gets the fd it carried (or -1). */
void wire_recv(int s, struct proto_msg *m, int *fd);

/* The next message must answer op/seq with status (and carry no fd). */
void wire_expect_reply(int s, uint16_t op, uint32_t seq, uint16_t status, struct proto_msg *out);

/* A connection that has said HELLO (seq 1) and been answered. */
int wire_session(void);

/* Send a request on a segment name: CREATE (mode 0600), DESTROY, RESIZE, STAT. */
void wire_send_named(int s, uint16_t op, uint32_t seq, const char *name, uint64_t size);

/* The same, and it must succeed. */
void wire_named(int s, uint16_t op, uint32_t seq, const char *name, uint64_t size);

/* Send an ACQUIRE of bytes [0, 4096) of name; have is have_segment_id. */
void wire_send_acquire(int s, uint32_t seq, const char *name, uint32_t flags, int32_t timeout_ms,
		       uint64_t have);

/* Read a grant for seq: its reply in *a; returns its fd (or -1), closed by the caller. */
int wire_expect_grant(int s, uint32_t seq, struct proto_acquire_reply *a);

/* ACQUIRE, granted at once: returns the fd (or -1). */
int wire_acquire(int s, uint32_t seq, const char *name, uint32_t flags, uint64_t have,
		 struct proto_acquire_reply *a);

/* Send a RELEASE with flags (written by hand: unknown bits included). */
void wire_send_release(int s, uint32_t seq, uint64_t lease_id, uint32_t flags);

#endif
