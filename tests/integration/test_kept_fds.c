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
#include <sys/un.h>
#include <unistd.h>

#include "fdio.h"
#include "harness.h"
#include "proto.h"

TestSuite(kept_fds, .init = daemon_setup, .fini = daemon_teardown, .timeout = 30);

#define REPLY_TIMEOUT_MS 5000
#define MANY_WAITERS 400

/* ---- raw wire helpers ---- */

static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	cr_assert_geq(s, 0, "socket: %s", strerror(errno));
	memcpy(sa.sun_path, daemon_socket(), strlen(daemon_socket()) + 1);
	cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s", strerror(errno));
	return s;
}

/* Send m, with the u32 at payload offset patch_at (if >= 0) then set to patch:
 * proto_encode() is strict, so bad flags are written by hand. */
static void raw_request_patched(int s, struct proto_msg *m, int patch_at, uint32_t patch)
{
	uint8_t buf[1024];
	int n = proto_encode(m, buf, sizeof(buf)), r;

	cr_assert_gt(n, 0, "proto_encode: %s", strerror(-n));
	if (patch_at >= 0)
		for (int i = 0; i < 4; i++)
			buf[PROTO_HEADER_SIZE + patch_at + i] = (uint8_t)(patch >> (8 * i));
	r = fdio_send(s, buf, (size_t)n, -1);
	cr_assert_eq(r, 0, "send: %s", strerror(-r));
}

static void raw_request(int s, struct proto_msg *m)
{
	raw_request_patched(s, m, -1, 0);
}

/* The next message within REPLY_TIMEOUT_MS, decoded; *fd gets the fd it carried (or -1). */
static void raw_recv(int s, struct proto_msg *m, int *fd)
{
	static uint8_t buf[PROTO_MAX_MESSAGE];
	struct pollfd pfd = { .fd = s, .events = POLLIN };
	const char *why = "";
	int got = -1, r;
	long n;

	do
		r = poll(&pfd, 1, REPLY_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	cr_assert_eq(r, 1, "nothing from the daemon within %d ms", REPLY_TIMEOUT_MS);
	n = fdio_recv(s, buf, sizeof(buf), &got);
	cr_assert_gt(n, 0, "reading: %s", n == 0 ? "connection closed" : strerror((int)-n));
	r = proto_decode(buf, (size_t)n, m, &why);
	cr_assert_eq(r, 0, "a message from the daemon does not decode: %s", why);
	if (fd)
		*fd = got;
	else if (got >= 0)
		close(got);
}

/* The next message must answer op/seq with status (and carry no fd). */
static void expect_reply(int s, uint16_t op, uint32_t seq, uint16_t status, struct proto_msg *out)
{
	struct proto_msg m;
	int fd;

	raw_recv(s, &m, &fd);
	cr_assert_eq(fd, -1, "%s reply carries an fd", proto_op_name(op));
	cr_assert_eq(m.op, op | PROTO_REPLY_BIT, "got op %#x (seq %u), expected %#x", m.op, m.seq,
		     op | PROTO_REPLY_BIT);
	cr_assert_eq(m.seq, seq, "reply seq %u, expected %u", m.seq, seq);
	cr_assert_eq(m.status, status, "status %s (\"%s\"), expected %s", proto_status_name(m.status),
		     m.status ? m.u.error.message : "", proto_status_name(status));
	if (out)
		*out = m;
}

static int raw_session(void)
{
	struct proto_msg m = { .op = PROTO_OP_HELLO, .seq = 1 };
	int s = raw_connect();

	m.u.hello = (struct proto_hello){ .magic = PROTO_MAGIC, .min_version = PROTO_VERSION,
					  .max_version = PROTO_VERSION };
	raw_request(s, &m);
	expect_reply(s, PROTO_OP_HELLO, 1, PROTO_OK, NULL);
	return s;
}

static void send_named(int s, uint16_t op, uint32_t seq, const char *name, uint64_t size)
{
	struct proto_msg m = { .op = op, .seq = seq };

	m.u.segment.size = size;
	m.u.segment.mode = op == PROTO_OP_CREATE ? 0600 : 0;
	snprintf(m.u.segment.name, sizeof(m.u.segment.name), "%s", name);
	raw_request(s, &m);
}

static void named(int s, uint16_t op, uint32_t seq, const char *name, uint64_t size)
{
	send_named(s, op, seq, name, size);
	expect_reply(s, op, seq, PROTO_OK, NULL);
}

static void send_acquire(int s, uint32_t seq, const char *name, uint32_t flags, int32_t timeout_ms, uint64_t have)
{
	struct proto_msg m = { .op = PROTO_OP_ACQUIRE, .seq = seq };

	m.u.acquire = (struct proto_acquire){ .length = 4096, .flags = flags, .timeout_ms = timeout_ms,
					      .have_segment_id = have };
	snprintf(m.u.acquire.name, sizeof(m.u.acquire.name), "%s", name);
	raw_request(s, &m);
}

/* Read a grant for seq: its reply in *a; returns its fd (or -1), closed by the caller. */
static int expect_grant(int s, uint32_t seq, struct proto_acquire_reply *a)
{
	struct proto_msg m;
	int fd;

	raw_recv(s, &m, &fd);
	cr_assert_eq(m.op, PROTO_OP_ACQUIRE | PROTO_REPLY_BIT, "got op %#x, expected an ACQUIRE reply", m.op);
	cr_assert_eq(m.seq, seq, "grant seq %u, expected %u", m.seq, seq);
	cr_assert_eq(m.status, PROTO_OK, "ACQUIRE failed: %s", m.u.error.message);
	cr_assert_eq(fd >= 0, (m.u.acquire_reply.flags & PROTO_ACQ_FD) != 0,
		     "an fd comes exactly when the FD flag is set (flags %#x, fd %d)", m.u.acquire_reply.flags, fd);
	*a = m.u.acquire_reply;
	return fd;
}

/* ACQUIRE, granted at once: returns the fd (or -1). */
static int acquire(int s, uint32_t seq, const char *name, uint32_t flags, uint64_t have, struct proto_acquire_reply *a)
{
	send_acquire(s, seq, name, flags, 0, have);
	return expect_grant(s, seq, a);
}

static void send_release(int s, uint32_t seq, uint64_t lease_id, uint32_t flags)
{
	struct proto_msg m = { .op = PROTO_OP_RELEASE, .seq = seq };

	m.u.release.lease_id = lease_id;
	raw_request_patched(s, &m, 8, flags); /* flags: u32 after the u64 lease_id */
}

static void send_unmap(int s, uint32_t seq, uint64_t segment_id, uint32_t modes)
{
	struct proto_msg m = { .op = PROTO_OP_UNMAP, .seq = seq };

	m.u.unmap.segment_id = segment_id;
	m.u.unmap.modes = PROTO_ACQ_READ;
	raw_request_patched(s, &m, 8, modes); /* modes: u32 after the u64 segment_id */
}

/* STATUS's bytes and segments. */
static void status(int s, uint32_t seq, uint64_t *bytes, uint32_t *segments)
{
	struct proto_msg m = { .op = PROTO_OP_STATUS, .seq = seq };

	raw_request(s, &m);
	expect_reply(s, PROTO_OP_STATUS, seq, PROTO_OK, &m);
	*bytes = m.u.status_reply.bytes;
	*segments = m.u.status_reply.segments;
}

/* LIST_SEGMENTS' flags for segment id, or -1 when it is not listed (one page is enough here). */
static long listed_flags(int s, uint32_t seq, uint64_t id)
{
	static struct proto_msg m;

	m = (struct proto_msg){ .op = PROTO_OP_LIST_SEGMENTS, .seq = seq };
	raw_request(s, &m);
	expect_reply(s, PROTO_OP_LIST_SEGMENTS, seq, PROTO_OK, &m);
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
	int s = raw_session(), t = raw_session(), fd;

	named(s, PROTO_OP_CREATE, 2, name, 65536);
	fd = acquire(s, 3, name, PROTO_ACQ_READ, 0, &a);
	cr_assert_geq(fd, 0, "the first ACQUIRE brings the fd");
	cr_assert_eq(a.flags, PROTO_ACQ_READ | PROTO_ACQ_FD);
	cr_assert_neq(a.segment_id, 0);
	close(fd);

	/* Claiming that segment's id: no fd, no flag, same segment. */
	cr_assert_eq(acquire(s, 4, name, PROTO_ACQ_READ, a.segment_id, &b), -1);
	cr_assert_eq(b.flags, PROTO_ACQ_READ);
	cr_assert_eq(b.segment_id, a.segment_id);

	/* The other mode is another fd, sent once too. */
	send_release(s, 5, a.lease_id, 0);
	expect_reply(s, PROTO_OP_RELEASE, 5, PROTO_OK, NULL);
	send_release(s, 6, b.lease_id, 0);
	expect_reply(s, PROTO_OP_RELEASE, 6, PROTO_OK, NULL);
	fd = acquire(s, 7, name, PROTO_ACQ_WRITE, 0, &b); /* a claim is per mode: no write fd held yet */
	cr_assert_geq(fd, 0, "a WRITE lease brings the writable fd though the read one is held");
	cr_assert_eq(b.flags, PROTO_ACQ_WRITE | PROTO_ACQ_FD);
	close(fd);
	send_release(s, 8, b.lease_id, 0);
	expect_reply(s, PROTO_OP_RELEASE, 8, PROTO_OK, NULL);
	cr_assert_eq(acquire(s, 9, name, PROTO_ACQ_WRITE, a.segment_id, &b), -1);
	cr_assert_eq(b.flags, PROTO_ACQ_WRITE);
	send_release(s, 10, b.lease_id, 0);
	expect_reply(s, PROTO_OP_RELEASE, 10, PROTO_OK, NULL);

	/* Another connection holds nothing yet: its own first fd. */
	fd = acquire(t, 2, name, PROTO_ACQ_READ, 0, &b);
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
	int s = raw_session(), fd;

	named(s, PROTO_OP_CREATE, 2, name, 4096);
	fd = acquire(s, 3, name, PROTO_ACQ_READ, 0, &a);
	close(fd);
	send_release(s, 4, a.lease_id, 0);
	expect_reply(s, PROTO_OP_RELEASE, 4, PROTO_OK, NULL);
	named(s, PROTO_OP_DESTROY, 5, name, 0);
	/* We map it: the daemon asks us to let go. */
	raw_recv(s, &m, NULL);
	cr_assert_eq(m.op, PROTO_OP_UNMAP | PROTO_REPLY_BIT);
	cr_assert_eq(m.u.unmap_reply.segment_id, a.segment_id);
	named(s, PROTO_OP_CREATE, 6, name, 4096);
	fd = acquire(s, 7, name, PROTO_ACQ_READ, a.segment_id, &b);
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

	named(d, PROTO_OP_CREATE, 2, name, 1 << 20);
	fd = acquire(s, 3, name, PROTO_ACQ_READ, 0, &a);
	close(fd);
	send_release(s, 4, a.lease_id, 0);
	expect_reply(s, PROTO_OP_RELEASE, 4, PROTO_OK, NULL);
	named(d, PROTO_OP_DESTROY, 3, name, 0);
	raw_recv(s, &m, NULL);
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
	int s = raw_session(), d = raw_session();
	uint64_t id = destroyed_but_mapped(s, d, seg_name("unmap")), bytes;
	uint32_t segments;

	send_unmap(s, 5, id, PROTO_ACQ_READ);
	status(s, 6, &bytes, &segments); /* UNMAP is quiet: this is the next reply */
	cr_assert_eq(bytes, 0);
	cr_assert_eq(segments, 0);
	cr_assert_eq(listed_flags(d, 6, id), -1);
	/* Gone: a second UNMAP names nothing. */
	send_unmap(s, 7, id, PROTO_ACQ_READ);
	expect_reply(s, PROTO_OP_UNMAP, 7, PROTO_E_NOENT, NULL);
	close(s);
	close(d);
	expect_clean_shutdown();
}

Test(kept_fds, a_destroyed_segment_lives_until_its_mapper_disconnects)
{
	int s = raw_session(), d = raw_session();
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
	int s = raw_session(), fd;

	named(s, PROTO_OP_CREATE, 2, name, 4096);
	send_unmap(s, 3, 12345, PROTO_ACQ_READ);
	expect_reply(s, PROTO_OP_UNMAP, 3, PROTO_E_NOENT, NULL);
	fd = acquire(s, 4, name, PROTO_ACQ_READ, 0, &a);
	close(fd);
	send_unmap(s, 5, a.segment_id, PROTO_ACQ_WRITE); /* only READ was sent */
	expect_reply(s, PROTO_OP_UNMAP, 5, PROTO_E_NOENT, NULL);
	send_unmap(s, 6, a.segment_id, 0);
	expect_reply(s, PROTO_OP_UNMAP, 6, PROTO_E_INVAL, NULL);
	send_unmap(s, 7, a.segment_id, 4);
	expect_reply(s, PROTO_OP_UNMAP, 7, PROTO_E_INVAL, NULL);
	/* A live segment's mapper may let go on its own (quiet; a mode it was not sent is
	 * ignored), and gets a fresh fd next time. */
	send_unmap(s, 8, a.segment_id, PROTO_ACQ_READ | PROTO_ACQ_WRITE);
	send_unmap(s, 9, a.segment_id, PROTO_ACQ_READ);
	expect_reply(s, PROTO_OP_UNMAP, 9, PROTO_E_NOENT, NULL);
	fd = acquire(s, 10, name, PROTO_ACQ_READ, 0, &a);
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
	int s = raw_session(), fd;

	named(s, PROTO_OP_CREATE, 2, name, 4096);
	fd = acquire(s, 3, name, PROTO_ACQ_WRITE, 0, &a);
	close(fd);
	send_release(s, 4, a.lease_id, PROTO_RELEASE_QUIET);
	/* Nothing for seq 4: the next thing read answers seq 5. */
	send_named(s, PROTO_OP_STAT, 5, name, 0);
	expect_reply(s, PROTO_OP_STAT, 5, PROTO_OK, &m);
	cr_assert_eq(m.u.stat_reply.write_leases, 0, "the quiet release took effect");

	send_release(s, 6, a.lease_id, PROTO_RELEASE_QUIET); /* released already */
	expect_reply(s, PROTO_OP_RELEASE, 6, PROTO_E_NOENT, NULL);
	send_release(s, 7, 999999, PROTO_RELEASE_QUIET);
	expect_reply(s, PROTO_OP_RELEASE, 7, PROTO_E_NOENT, NULL);
	cr_assert_eq(acquire(s, 8, name, PROTO_ACQ_WRITE, a.segment_id, &a), -1);
	send_release(s, 9, a.lease_id, 0x2);
	expect_reply(s, PROTO_OP_RELEASE, 9, PROTO_E_INVAL, NULL);
	send_release(s, 10, a.lease_id, 0);
	expect_reply(s, PROTO_OP_RELEASE, 10, PROTO_OK, NULL);
	close(s);
	expect_clean_shutdown();
}

Test(kept_fds, a_waiter_is_granted_by_a_quiet_release)
{
	const char *name = seg_name("handoff");
	struct proto_acquire_reply a, b;
	shmbuf_client *c = client_new();
	int s = raw_session(), t = raw_session(), fd;

	named(s, PROTO_OP_CREATE, 2, name, 4096);
	fd = acquire(s, 3, name, PROTO_ACQ_WRITE, 0, &a);
	close(fd);
	send_acquire(t, 2, name, PROTO_ACQ_READ, -1, 0);
	cr_assert_eq(wait_for_waiters(c, name, 1, 5000), 0);
	send_release(s, 4, a.lease_id, PROTO_RELEASE_QUIET);
	fd = expect_grant(t, 2, &b);
	cr_assert_geq(fd, 0, "the waiter's first grant brings its fd");
	close(fd);
	send_named(s, PROTO_OP_STAT, 5, name, 0);
	expect_reply(s, PROTO_OP_STAT, 5, PROTO_OK, NULL);
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
	raw_request_patched(s, &m, 0, acquire_seq);
}

Test(kept_fds, cancel_answers_the_waiting_acquire_then_itself_and_a_release_grants_nothing)
{
	const char *name = seg_name("cancel");
	struct proto_acquire_reply a;
	struct proto_msg m;
	shmbuf_client *c = client_new();
	int s = raw_session(), t = raw_session(), fd;

	named(s, PROTO_OP_CREATE, 2, name, 4096);
	fd = acquire(s, 3, name, PROTO_ACQ_WRITE, 0, &a);
	close(fd);
	send_acquire(t, 7, name, PROTO_ACQ_READ, -1, 0);
	cr_assert_eq(wait_for_waiters(c, name, 1, 5000), 0);
	send_cancel(t, 8, 7);
	expect_reply(t, PROTO_OP_ACQUIRE, 7, PROTO_E_CANCELED, NULL);
	expect_reply(t, PROTO_OP_CANCEL, 8, PROTO_OK, NULL);
	send_cancel(t, 9, 7);
	expect_reply(t, PROTO_OP_CANCEL, 9, PROTO_E_NOENT, NULL);
	send_cancel(t, 10, 0);
	expect_reply(t, PROTO_OP_CANCEL, 10, PROTO_E_INVAL, NULL);
	send_release(s, 4, a.lease_id, 0);
	expect_reply(s, PROTO_OP_RELEASE, 4, PROTO_OK, NULL);
	/* Nothing was granted to t: its next reply is this STAT's, with nothing leased. */
	send_named(t, PROTO_OP_STAT, 11, name, 0);
	expect_reply(t, PROTO_OP_STAT, 11, PROTO_OK, &m);
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
	int s = raw_session(), t = raw_session(), fd;

	named(s, PROTO_OP_CREATE, 2, name, 65536);
	fd = acquire(t, 2, name, PROTO_ACQ_READ, 0, &a); /* t holds the read fd from now on */
	close(fd);
	send_release(t, 3, a.lease_id, PROTO_RELEASE_QUIET);
	fd = acquire(s, 3, name, PROTO_ACQ_WRITE, 0, &w);
	close(fd);
	for (uint32_t i = 0; i < MANY_WAITERS; i++)
		send_acquire(t, 100 + i, name, PROTO_ACQ_READ, -1, a.segment_id);
	cr_assert_eq(wait_for_waiters(c, name, MANY_WAITERS, 10000), 0);
	/* One release grants all 400 (far past --max-queue 256 and the socket buffer). */
	send_release(s, 4, w.lease_id, 0);
	expect_reply(s, PROTO_OP_RELEASE, 4, PROTO_OK, NULL);
	for (uint32_t i = 0; i < MANY_WAITERS; i++)
		cr_assert_eq(expect_grant(t, 100 + i, &a), -1, "no fd: the claim named the segment");
	send_named(t, PROTO_OP_STAT, 1000, name, 0);
	expect_reply(t, PROTO_OP_STAT, 1000, PROTO_OK, &m);
	cr_assert_eq(m.u.stat_reply.read_leases, MANY_WAITERS, "still connected, holding them all");
	close(s);
	close(t);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}
