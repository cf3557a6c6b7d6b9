/* SPDX-License-Identifier: MIT */
/* test_kept_fds.c: protocol 2 against a real shmbufd on raw sockets: an fd crosses once per
 * connection, segment and mode (have_segment_id, the FD flag), destroyed memory waits for its
 * mappers (the unasked UNMAP and the UNMAP request), quiet RELEASE, a release granting waiters at
 * once, and a connection owed hundreds of grants at once staying connected. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "proto.h"
#include "wire.h"

TestSuite(kept_fds, .init = daemon_setup, .fini = daemon_teardown, .timeout = 30);

#define MANY_WAITERS 400

static void send_unmap(int s, uint32_t seq, uint64_t segment_id, uint32_t modes)
{
	struct proto_msg m = { .op = PROTO_OP_UNMAP, .seq = seq };

	m.u.unmap.segment_id = segment_id;
	m.u.unmap.modes = PROTO_ACQ_READ;
	wire_request_patched(s, &m, 8, modes); /* modes: u32 after the u64 segment_id */
}

/* STATUS's bytes and segments. */
static void status(int s, uint32_t seq, uint64_t *bytes, uint32_t *segments)
{
	struct proto_msg m = { .op = PROTO_OP_STATUS, .seq = seq };

	wire_request(s, &m);
	wire_expect_reply(s, PROTO_OP_STATUS, seq, PROTO_OK, &m);
	*bytes = m.u.status_reply.bytes;
	*segments = m.u.status_reply.segments;
}

/* LIST_SEGMENTS' flags for segment id, or -1 when it is not listed (one page is enough here). */
static long listed_flags(int s, uint32_t seq, uint64_t id)
{
	static struct proto_msg m;

	m = (struct proto_msg){ .op = PROTO_OP_LIST_SEGMENTS, .seq = seq };
	wire_request(s, &m);
	wire_expect_reply(s, PROTO_OP_LIST_SEGMENTS, seq, PROTO_OK, &m);
	for (uint32_t i = 0; i < m.u.list_reply.count; i++)
		if (m.u.list_reply.e.segments[i].id == id)
			return m.u.list_reply.e.segments[i].flags;
	return -1;
}

/* ---- an fd crosses once ---- */

Test(kept_fds, an_fd_crosses_once_per_connection_segment_and_mode)
{
	const char *name = seg_name("once");
	struct proto_acquire_reply a, b;
	int s = wire_session(), t = wire_session(), fd;

	wire_named(s, PROTO_OP_CREATE, 2, name, 65536);
	fd = wire_acquire(s, 3, name, PROTO_ACQ_READ, 0, &a);
	cr_assert_geq(fd, 0, "the first ACQUIRE brings the fd");
	cr_assert_eq(a.flags, PROTO_ACQ_READ | PROTO_ACQ_FD);
	cr_assert_neq(a.segment_id, 0);
	close(fd);

	/* Claiming that segment's id: no fd, no flag, same segment. */
	cr_assert_eq(wire_acquire(s, 4, name, PROTO_ACQ_READ, a.segment_id, &b), -1);
	cr_assert_eq(b.flags, PROTO_ACQ_READ);
	cr_assert_eq(b.segment_id, a.segment_id);

	/* The other mode is another fd, sent once too. */
	wire_send_release(s, 5, a.lease_id, 0);
	wire_expect_reply(s, PROTO_OP_RELEASE, 5, PROTO_OK, NULL);
	wire_send_release(s, 6, b.lease_id, 0);
	wire_expect_reply(s, PROTO_OP_RELEASE, 6, PROTO_OK, NULL);
	fd = wire_acquire(s, 7, name, PROTO_ACQ_WRITE, 0, &b); /* a claim is per mode: no write fd held yet */
	cr_assert_geq(fd, 0, "a WRITE lease brings the writable fd though the read one is held");
	cr_assert_eq(b.flags, PROTO_ACQ_WRITE | PROTO_ACQ_FD);
	close(fd);
	wire_send_release(s, 8, b.lease_id, 0);
	wire_expect_reply(s, PROTO_OP_RELEASE, 8, PROTO_OK, NULL);
	cr_assert_eq(wire_acquire(s, 9, name, PROTO_ACQ_WRITE, a.segment_id, &b), -1);
	cr_assert_eq(b.flags, PROTO_ACQ_WRITE);
	wire_send_release(s, 10, b.lease_id, 0);
	wire_expect_reply(s, PROTO_OP_RELEASE, 10, PROTO_OK, NULL);

	/* Another connection holds nothing yet: its own first fd. */
	fd = wire_acquire(t, 2, name, PROTO_ACQ_READ, 0, &b);
	cr_assert_geq(fd, 0);
	close(fd);
	close(s);
	close(t);
	expect_clean_shutdown();
}

Test(kept_fds, a_name_destroyed_and_created_again_gets_a_fresh_fd_despite_an_old_claim)
{
	const char *name = seg_name("again");
	struct proto_acquire_reply a, b;
	struct proto_msg m;
	int s = wire_session(), fd;

	wire_named(s, PROTO_OP_CREATE, 2, name, 4096);
	fd = wire_acquire(s, 3, name, PROTO_ACQ_READ, 0, &a);
	close(fd);
	wire_send_release(s, 4, a.lease_id, 0);
	wire_expect_reply(s, PROTO_OP_RELEASE, 4, PROTO_OK, NULL);
	wire_named(s, PROTO_OP_DESTROY, 5, name, 0);
	/* We map it: the daemon asks us to let go. */
	wire_recv(s, &m, NULL);
	cr_assert_eq(m.op, PROTO_OP_UNMAP | PROTO_REPLY_BIT);
	cr_assert_eq(m.u.unmap_reply.segment_id, a.segment_id);
	wire_named(s, PROTO_OP_CREATE, 6, name, 4096);
	fd = wire_acquire(s, 7, name, PROTO_ACQ_READ, a.segment_id, &b);
	cr_assert_geq(fd, 0, "a new segment under the old name: the old claim does not match");
	cr_assert_neq(b.segment_id, a.segment_id);
	close(fd);
	close(s);
	expect_clean_shutdown();
}

/* ---- destroyed memory waits for its mappers ---- */

/* A segment of 1 MiB that s maps (READ) and holds no lease on, destroyed by d: s is sent
 * the unasked UNMAP, and the memory stays counted and listed. Returns its id. */
static uint64_t destroyed_but_mapped(int s, int d, const char *name)
{
	struct proto_acquire_reply a;
	struct proto_msg m;
	uint64_t bytes;
	uint32_t segments;
	int fd;

	wire_named(d, PROTO_OP_CREATE, 2, name, 1 << 20);
	fd = wire_acquire(s, 3, name, PROTO_ACQ_READ, 0, &a);
	close(fd);
	wire_send_release(s, 4, a.lease_id, 0);
	wire_expect_reply(s, PROTO_OP_RELEASE, 4, PROTO_OK, NULL);
	wire_named(d, PROTO_OP_DESTROY, 3, name, 0);
	wire_recv(s, &m, NULL);
	cr_assert_eq(m.op, PROTO_OP_UNMAP | PROTO_REPLY_BIT, "the mapper is told: op %#x", m.op);
	cr_assert_eq(m.seq, 0);
	cr_assert_eq(m.status, PROTO_OK);
	cr_assert_eq(m.u.unmap_reply.segment_id, a.segment_id);
	status(d, 4, &bytes, &segments);
	cr_assert_eq(bytes, 1 << 20, "a mapped segment's memory is still counted");
	cr_assert_eq(segments, 1);
	cr_assert_eq(listed_flags(d, 5, a.segment_id), PROTO_SEG_DESTROYED);
	return a.segment_id;
}

Test(kept_fds, a_destroyed_segment_lives_until_its_mapper_answers_unmap)
{
	int s = wire_session(), d = wire_session();
	uint64_t id = destroyed_but_mapped(s, d, seg_name("unmap")), bytes;
	uint32_t segments;

	send_unmap(s, 5, id, PROTO_ACQ_READ);
	status(s, 6, &bytes, &segments); /* UNMAP is quiet: this is the next reply */
	cr_assert_eq(bytes, 0);
	cr_assert_eq(segments, 0);
	cr_assert_eq(listed_flags(d, 6, id), -1);
	/* Gone: a second UNMAP names nothing. */
	send_unmap(s, 7, id, PROTO_ACQ_READ);
	wire_expect_reply(s, PROTO_OP_UNMAP, 7, PROTO_E_NOENT, NULL);
	close(s);
	close(d);
	expect_clean_shutdown();
}

Test(kept_fds, a_destroyed_segment_lives_until_its_mapper_disconnects)
{
	int s = wire_session(), d = wire_session();
	uint64_t id = destroyed_but_mapped(s, d, seg_name("hangup")), bytes = 1;
	uint32_t segments = 1;

	close(s);
	for (int64_t end = now_ms() + 5000; bytes || segments; poll(NULL, 0, 5)) {
		cr_assert_lt(now_ms(), end, "still %llu bytes after the mapper left", (unsigned long long)bytes);
		status(d, 6, &bytes, &segments);
	}
	cr_assert_eq(listed_flags(d, 7, id), -1);
	close(d);
	expect_clean_shutdown();
}

Test(kept_fds, unmap_of_what_was_never_sent_gets_enoent_and_bad_modes_einval)
{
	const char *name = seg_name("never");
	struct proto_acquire_reply a;
	int s = wire_session(), fd;

	wire_named(s, PROTO_OP_CREATE, 2, name, 4096);
	send_unmap(s, 3, 12345, PROTO_ACQ_READ);
	wire_expect_reply(s, PROTO_OP_UNMAP, 3, PROTO_E_NOENT, NULL);
	fd = wire_acquire(s, 4, name, PROTO_ACQ_READ, 0, &a);
	close(fd);
	send_unmap(s, 5, a.segment_id, PROTO_ACQ_WRITE); /* only READ was sent */
	wire_expect_reply(s, PROTO_OP_UNMAP, 5, PROTO_E_NOENT, NULL);
	send_unmap(s, 6, a.segment_id, 0);
	wire_expect_reply(s, PROTO_OP_UNMAP, 6, PROTO_E_INVAL, NULL);
	send_unmap(s, 7, a.segment_id, 4);
	wire_expect_reply(s, PROTO_OP_UNMAP, 7, PROTO_E_INVAL, NULL);
	/* A live segment's mapper may let go on its own (quiet; a mode it was not sent is
	 * ignored), and gets a fresh fd next time. */
	send_unmap(s, 8, a.segment_id, PROTO_ACQ_READ | PROTO_ACQ_WRITE);
	send_unmap(s, 9, a.segment_id, PROTO_ACQ_READ);
	wire_expect_reply(s, PROTO_OP_UNMAP, 9, PROTO_E_NOENT, NULL);
	fd = wire_acquire(s, 10, name, PROTO_ACQ_READ, 0, &a);
	cr_assert_geq(fd, 0);
	close(fd);
	close(s);
	expect_clean_shutdown();
}

/* ---- quiet RELEASE ---- */

Test(kept_fds, a_quiet_release_is_answered_only_when_it_fails)
{
	const char *name = seg_name("quiet");
	struct proto_acquire_reply a;
	struct proto_msg m;
	int s = wire_session(), fd;

	wire_named(s, PROTO_OP_CREATE, 2, name, 4096);
	fd = wire_acquire(s, 3, name, PROTO_ACQ_WRITE, 0, &a);
	close(fd);
	wire_send_release(s, 4, a.lease_id, PROTO_RELEASE_QUIET);
	/* Nothing for seq 4: the next thing read answers seq 5. */
	wire_send_named(s, PROTO_OP_STAT, 5, name, 0);
	wire_expect_reply(s, PROTO_OP_STAT, 5, PROTO_OK, &m);
	cr_assert_eq(m.u.stat_reply.write_leases, 0, "the quiet release took effect");

	wire_send_release(s, 6, a.lease_id, PROTO_RELEASE_QUIET); /* released already */
	wire_expect_reply(s, PROTO_OP_RELEASE, 6, PROTO_E_NOENT, NULL);
	wire_send_release(s, 7, 999999, PROTO_RELEASE_QUIET);
	wire_expect_reply(s, PROTO_OP_RELEASE, 7, PROTO_E_NOENT, NULL);
	cr_assert_eq(wire_acquire(s, 8, name, PROTO_ACQ_WRITE, a.segment_id, &a), -1);
	wire_send_release(s, 9, a.lease_id, 0x2);
	wire_expect_reply(s, PROTO_OP_RELEASE, 9, PROTO_E_INVAL, NULL);
	wire_send_release(s, 10, a.lease_id, 0);
	wire_expect_reply(s, PROTO_OP_RELEASE, 10, PROTO_OK, NULL);
	close(s);
	expect_clean_shutdown();
}

Test(kept_fds, a_waiter_is_granted_by_a_quiet_release)
{
	const char *name = seg_name("handoff");
	struct proto_acquire_reply a, b;
	shmbuf_client *c = client_new();
	int s = wire_session(), t = wire_session(), fd;

	wire_named(s, PROTO_OP_CREATE, 2, name, 4096);
	fd = wire_acquire(s, 3, name, PROTO_ACQ_WRITE, 0, &a);
	close(fd);
	wire_send_acquire(t, 2, name, PROTO_ACQ_READ, -1, 0);
	cr_assert_eq(wait_for_waiters(c, name, 1, 5000), 0);
	wire_send_release(s, 4, a.lease_id, PROTO_RELEASE_QUIET);
	fd = wire_expect_grant(t, 2, &b);
	cr_assert_geq(fd, 0, "the waiter's first grant brings its fd");
	close(fd);
	wire_send_named(s, PROTO_OP_STAT, 5, name, 0);
	wire_expect_reply(s, PROTO_OP_STAT, 5, PROTO_OK, NULL);
	close(s);
	close(t);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- CANCEL (issue 9) ---- */

/* CANCEL naming acquire_seq (written over the encoded bytes: the encoder refuses 0). */
static void send_cancel(int s, uint32_t seq, uint32_t acquire_seq)
{
	struct proto_msg m = { .op = PROTO_OP_CANCEL, .seq = seq };

	m.u.cancel.acquire_seq = 1;
	wire_request_patched(s, &m, 0, acquire_seq);
}

Test(kept_fds, cancel_answers_the_waiting_acquire_then_itself_and_a_release_grants_nothing)
{
	const char *name = seg_name("cancel");
	struct proto_acquire_reply a;
	struct proto_msg m;
	shmbuf_client *c = client_new();
	int s = wire_session(), t = wire_session(), fd;

	wire_named(s, PROTO_OP_CREATE, 2, name, 4096);
	fd = wire_acquire(s, 3, name, PROTO_ACQ_WRITE, 0, &a);
	close(fd);
	wire_send_acquire(t, 7, name, PROTO_ACQ_READ, -1, 0);
	cr_assert_eq(wait_for_waiters(c, name, 1, 5000), 0);
	send_cancel(t, 8, 7);
	wire_expect_reply(t, PROTO_OP_ACQUIRE, 7, PROTO_E_CANCELED, NULL);
	wire_expect_reply(t, PROTO_OP_CANCEL, 8, PROTO_OK, NULL);
	send_cancel(t, 9, 7);
	wire_expect_reply(t, PROTO_OP_CANCEL, 9, PROTO_E_NOENT, NULL);
	send_cancel(t, 10, 0);
	wire_expect_reply(t, PROTO_OP_CANCEL, 10, PROTO_E_INVAL, NULL);
	wire_send_release(s, 4, a.lease_id, 0);
	wire_expect_reply(s, PROTO_OP_RELEASE, 4, PROTO_OK, NULL);
	/* Nothing was granted to t: its next reply is this STAT's, with nothing leased. */
	wire_send_named(t, PROTO_OP_STAT, 11, name, 0);
	wire_expect_reply(t, PROTO_OP_STAT, 11, PROTO_OK, &m);
	cr_assert_eq(m.u.stat_reply.read_leases + m.u.stat_reply.write_leases + m.u.stat_reply.waiters, 0);
	cr_assert_eq(m.u.stat_reply.generation, 1, "the write lease that ended is generation 1");
	close(s);
	close(t);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- owed many at once ---- */

Test(kept_fds, a_connection_owed_400_grants_at_once_reads_them_all_and_stays)
{
	const char *name = seg_name("owed");
	struct proto_acquire_reply a, w;
	struct proto_msg m;
	shmbuf_client *c = client_new();
	int s = wire_session(), t = wire_session(), fd;

	wire_named(s, PROTO_OP_CREATE, 2, name, 65536);
	fd = wire_acquire(t, 2, name, PROTO_ACQ_READ, 0, &a); /* t holds the read fd from now on */
	close(fd);
	wire_send_release(t, 3, a.lease_id, PROTO_RELEASE_QUIET);
	fd = wire_acquire(s, 3, name, PROTO_ACQ_WRITE, 0, &w);
	close(fd);
	for (uint32_t i = 0; i < MANY_WAITERS; i++)
		wire_send_acquire(t, 100 + i, name, PROTO_ACQ_READ, -1, a.segment_id);
	cr_assert_eq(wait_for_waiters(c, name, MANY_WAITERS, 10000), 0);
	/* One release grants all 400 (far past --max-queue 256 and the socket buffer). */
	wire_send_release(s, 4, w.lease_id, 0);
	wire_expect_reply(s, PROTO_OP_RELEASE, 4, PROTO_OK, NULL);
	for (uint32_t i = 0; i < MANY_WAITERS; i++)
		cr_assert_eq(wire_expect_grant(t, 100 + i, &a), -1, "no fd: the claim named the segment");
	wire_send_named(t, PROTO_OP_STAT, 1000, name, 0);
	wire_expect_reply(t, PROTO_OP_STAT, 1000, PROTO_OK, &m);
	cr_assert_eq(m.u.stat_reply.read_leases, MANY_WAITERS, "still connected, holding them all");
	close(s);
	close(t);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}
