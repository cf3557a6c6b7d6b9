/* SPDX-License-Identifier: MIT */
/* wire.c: the raw wire client of wire.h. */
#define _GNU_SOURCE
#include "wire.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdio.h"
#include "harness.h"

int wire_connect(void)
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
void wire_request_patched(int s, struct proto_msg *m, int patch_at, uint32_t patch)
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

void wire_request(int s, struct proto_msg *m)
{
	wire_request_patched(s, m, -1, 0);
}

/* The next message within WIRE_REPLY_TIMEOUT_MS, decoded; *fd gets the fd it carried (or -1). */
void wire_recv(int s, struct proto_msg *m, int *fd)
{
	static uint8_t buf[PROTO_MAX_MESSAGE];
	struct pollfd pfd = { .fd = s, .events = POLLIN };
	const char *why = "";
	int got = -1, r;
	long n;

	do
		r = poll(&pfd, 1, WIRE_REPLY_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	cr_assert_eq(r, 1, "nothing from the daemon within %d ms", WIRE_REPLY_TIMEOUT_MS);
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
void wire_expect_reply(int s, uint16_t op, uint32_t seq, uint16_t status, struct proto_msg *out)
{
	struct proto_msg m;
	int fd;

	wire_recv(s, &m, &fd);
	cr_assert_eq(fd, -1, "%s reply carries an fd", proto_op_name(op));
	cr_assert_eq(m.op, op | PROTO_REPLY_BIT, "got op %#x (seq %u), expected %#x", m.op, m.seq,
		     op | PROTO_REPLY_BIT);
	cr_assert_eq(m.seq, seq, "reply seq %u, expected %u", m.seq, seq);
	cr_assert_eq(m.status, status, "status %s (\"%s\"), expected %s", proto_status_name(m.status),
		     m.status ? m.u.error.message : "", proto_status_name(status));
	if (out)
		*out = m;
}

int wire_session(void)
{
	struct proto_msg m = { .op = PROTO_OP_HELLO, .seq = 1 };
	int s = wire_connect();

	m.u.hello = (struct proto_hello){ .magic = PROTO_MAGIC, .min_version = PROTO_VERSION,
					  .max_version = PROTO_VERSION };
	wire_request(s, &m);
	wire_expect_reply(s, PROTO_OP_HELLO, 1, PROTO_OK, NULL);
	return s;
}

void wire_send_named(int s, uint16_t op, uint32_t seq, const char *name, uint64_t size)
{
	struct proto_msg m = { .op = op, .seq = seq };

	m.u.segment.size = size;
	m.u.segment.mode = op == PROTO_OP_CREATE ? 0600 : 0;
	snprintf(m.u.segment.name, sizeof(m.u.segment.name), "%s", name);
	wire_request(s, &m);
}

void wire_named(int s, uint16_t op, uint32_t seq, const char *name, uint64_t size)
{
	wire_send_named(s, op, seq, name, size);
	wire_expect_reply(s, op, seq, PROTO_OK, NULL);
}

void wire_send_acquire(int s, uint32_t seq, const char *name, uint32_t flags, int32_t timeout_ms, uint64_t have)
{
	struct proto_msg m = { .op = PROTO_OP_ACQUIRE, .seq = seq };

	m.u.acquire = (struct proto_acquire){ .length = 4096, .flags = flags, .timeout_ms = timeout_ms,
					      .have_segment_id = have };
	snprintf(m.u.acquire.name, sizeof(m.u.acquire.name), "%s", name);
	wire_request(s, &m);
}

/* Read a grant for seq: its reply in *a; returns its fd (or -1), closed by the caller. */
int wire_expect_grant(int s, uint32_t seq, struct proto_acquire_reply *a)
{
	struct proto_msg m;
	int fd;

	wire_recv(s, &m, &fd);
	cr_assert_eq(m.op, PROTO_OP_ACQUIRE | PROTO_REPLY_BIT, "got op %#x, expected an ACQUIRE reply", m.op);
	cr_assert_eq(m.seq, seq, "grant seq %u, expected %u", m.seq, seq);
	cr_assert_eq(m.status, PROTO_OK, "ACQUIRE failed: %s", m.u.error.message);
	cr_assert_eq(fd >= 0, (m.u.acquire_reply.flags & PROTO_ACQ_FD) != 0,
		     "an fd comes exactly when the FD flag is set (flags %#x, fd %d)", m.u.acquire_reply.flags, fd);
	*a = m.u.acquire_reply;
	return fd;
}

/* ACQUIRE, granted at once: returns the fd (or -1). */
int wire_acquire(int s, uint32_t seq, const char *name, uint32_t flags, uint64_t have, struct proto_acquire_reply *a)
{
	wire_send_acquire(s, seq, name, flags, 0, have);
	return wire_expect_grant(s, seq, a);
}

void wire_send_release(int s, uint32_t seq, uint64_t lease_id, uint32_t flags)
{
	struct proto_msg m = { .op = PROTO_OP_RELEASE, .seq = seq };

	m.u.release.lease_id = lease_id;
	wire_request_patched(s, &m, 8, flags); /* flags: u32 after the u64 lease_id */
}
