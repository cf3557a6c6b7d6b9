/* SPDX-License-Identifier: MIT */
/* test_hostile.c: a real shmbufd fed hand-built bytes on raw SOCK_SEQPACKET sockets (malformed
 * frames, stray fds, oversized datagrams, floods, connection storms); after each, a well-behaved
 * libshmbuf client must still be served. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdio.h"
#include "harness.h"
#include "proto.h"

TestSuite(hostile, .init = daemon_setup, .fini = daemon_teardown, .timeout = 30);

#define REPLY_TIMEOUT_MS 10000

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

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A 16-byte header, written by hand so it can lie. */
static void put_header(uint8_t *p, uint16_t op, uint32_t seq, uint32_t length)
{
	memset(p, 0, PROTO_HEADER_SIZE);
	put_le(p, op, 2);
	put_le(p + 4, seq, 4);
	put_le(p + 8, length, 4);
}

static void raw_send(int s, const void *buf, size_t len)
{
	int r = fdio_send(s, buf, len, -1);

	cr_assert_eq(r, 0, "sending %zu bytes: %s", len, strerror(-r));
}

/* Encode a valid request with the project's own encoder. */
static size_t encode(const struct proto_msg *m, uint8_t *buf, size_t cap)
{
	int n = proto_encode(m, buf, cap);

	cr_assert_gt(n, 0, "proto_encode: %s", strerror(-n));
	return (size_t)n;
}

static void raw_request(int s, const struct proto_msg *m)
{
	uint8_t buf[1024];

	raw_send(s, buf, encode(m, buf, sizeof(buf)));
}

/* One message from the daemon within REPLY_TIMEOUT_MS: its length (> 0), 0 at end of
 * file, or a negative errno (-ETIMEDOUT, -ECONNRESET). A message must decode. */
static long raw_recv(int s, struct proto_msg *m)
{
	static uint8_t buf[PROTO_MAX_MESSAGE];
	struct pollfd pfd = { .fd = s, .events = POLLIN };
	const char *why = "";
	int fd = -1, r;
	long n;

	do
		r = poll(&pfd, 1, REPLY_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	n = fdio_recv(s, buf, sizeof(buf), &fd);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return n;
	r = proto_decode(buf, (size_t)n, m, &why);
	cr_assert_eq(r, 0, "a message from the daemon does not decode: %s", why);
	return n;
}

/* The next message must be a reply to op with this seq and status. */
static void expect_reply(int s, uint16_t op, uint32_t seq, uint16_t status, struct proto_msg *out)
{
	struct proto_msg m;
	long n = raw_recv(s, &m);

	cr_assert_gt(n, 0, "no reply to %s (seq %u): %s", proto_op_name(op), seq,
		     n == 0 ? "connection closed" : strerror((int)-n));
	cr_assert_eq(m.op, op | PROTO_REPLY_BIT, "reply op %#x, expected %#x", m.op, op | PROTO_REPLY_BIT);
	cr_assert_eq(m.seq, seq, "reply seq %u, expected %u", m.seq, seq);
	cr_assert_eq(m.status, status, "status %s (\"%s\"), expected %s", proto_status_name(m.status),
		     m.status ? m.u.error.message : "", proto_status_name(status));
	if (out)
		*out = m;
}

/* For replies to what could not be decoded, the op and seq are unknown to the
 * daemon: only the status is checked (and that it is a reply). */
static void expect_error(int s, uint16_t status)
{
	struct proto_msg m;
	long n = raw_recv(s, &m);

	cr_assert_gt(n, 0, "no error reply: %s", n == 0 ? "connection closed" : strerror((int)-n));
	cr_assert(m.op & PROTO_REPLY_BIT, "op %#x is not a reply", m.op);
	cr_assert_eq(m.status, status, "status %s (\"%s\"), expected %s", proto_status_name(m.status),
		     m.status ? m.u.error.message : "", proto_status_name(status));
	cr_assert_str_neq(m.u.error.message, "", "an error reply carries a message");
}

static void expect_closed(int s)
{
	struct proto_msg m;
	long n = raw_recv(s, &m);

	cr_assert(n == 0 || n == -ECONNRESET, "the daemon should have closed the connection, got %s",
		  n > 0 ? proto_op_name(m.op) : strerror((int)-n));
}

static void raw_hello(int s)
{
	struct proto_msg m = { .op = PROTO_OP_HELLO, .seq = 1 };

	m.u.hello = (struct proto_hello){ .magic = PROTO_MAGIC, .min_version = PROTO_VERSION,
					  .max_version = PROTO_VERSION };
	raw_request(s, &m);
	expect_reply(s, PROTO_OP_HELLO, 1, PROTO_OK, &m);
	cr_assert_eq(m.u.hello_reply.version, PROTO_VERSION);
}

static void raw_stat(int s, uint32_t seq, const char *name, uint16_t status)
{
	struct proto_msg m = { .op = PROTO_OP_STAT, .seq = seq };

	snprintf(m.u.segment.name, sizeof(m.u.segment.name), "%s", name);
	raw_request(s, &m);
	expect_reply(s, PROTO_OP_STAT, seq, status, NULL);
}

/* After each abuse: a separate, well-behaved client is served as usual. */
static void expect_others_served(void)
{
	static unsigned n;
	char name[64];
	shmbuf_client *c = client_new();
	shmbuf_stat_info st;
	shmbuf_view v;

	snprintf(name, sizeof(name), "%s.%u", seg_name("bystander"), n++);
	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.size, 4096);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
}

/* ---- malformed frames ---- */

Test(hostile, a_garbage_datagram_gets_eproto_and_the_connection_is_closed)
{
	static const char garbage[] = "this is not a shmbuf message at all";
	int s = raw_connect();

	raw_send(s, garbage, sizeof(garbage) - 1);
	expect_error(s, PROTO_E_PROTO);
	expect_closed(s);
	close(s);
	expect_others_served();
	expect_clean_shutdown();
}

Test(hostile, a_short_header_gets_eproto_and_the_connection_is_closed)
{
	uint8_t buf[PROTO_HEADER_SIZE];
	int s = raw_connect();

	raw_hello(s);
	put_header(buf, PROTO_OP_STAT, 2, 0);
	raw_send(s, buf, 8);
	expect_error(s, PROTO_E_PROTO);
	expect_closed(s);
	close(s);
	expect_others_served();
	expect_clean_shutdown();
}

Test(hostile, a_length_field_that_disagrees_with_the_datagram_gets_eproto)
{
	struct proto_msg m = { .op = PROTO_OP_STAT, .seq = 2 };
	uint8_t buf[512];
	size_t n;
	int s = raw_connect(), t = raw_connect();

	snprintf(m.u.segment.name, sizeof(m.u.segment.name), "x");
	n = encode(&m, buf, sizeof(buf));

	raw_hello(s);
	put_le(buf + 8, n - PROTO_HEADER_SIZE + 1, 4); /* claims one byte more than sent */
	raw_send(s, buf, n);
	expect_error(s, PROTO_E_PROTO);
	expect_closed(s);

	raw_hello(t);
	put_le(buf + 8, n - PROTO_HEADER_SIZE - 1, 4); /* claims one byte less */
	raw_send(t, buf, n);
	expect_error(t, PROTO_E_PROTO);
	expect_closed(t);
	close(s);
	close(t);
	expect_others_served();
	expect_clean_shutdown();
}

Test(hostile, an_unknown_opcode_gets_enotsup_and_the_connection_stays_usable)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("known");
	uint8_t buf[PROTO_HEADER_SIZE + 4];
	int s = raw_connect();

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	raw_hello(s);
	put_header(buf, 0x7fff, 4242, 0);
	raw_send(s, buf, PROTO_HEADER_SIZE);
	expect_reply(s, 0x7fff, 4242, PROTO_E_NOTSUP, NULL);
	put_header(buf, 0x7ffe, 4243, 4); /* with a payload nobody can know the layout of */
	memcpy(buf + PROTO_HEADER_SIZE, "\x01\x02\x03\x04", 4);
	raw_send(s, buf, sizeof(buf));
	expect_reply(s, 0x7ffe, 4243, PROTO_E_NOTSUP, NULL);
	raw_stat(s, 4244, name, PROTO_OK);
	close(s);
	shmbuf_disconnect(c);
	expect_others_served();
	expect_clean_shutdown();
}

Test(hostile, a_request_before_hello_gets_eproto_and_the_connection_is_closed)
{
	struct proto_msg m = { .op = PROTO_OP_STAT, .seq = 9 };
	int s = raw_connect();

	snprintf(m.u.segment.name, sizeof(m.u.segment.name), "early");
	raw_request(s, &m);
	expect_reply(s, PROTO_OP_STAT, 9, PROTO_E_PROTO, NULL);
	expect_closed(s);
	close(s);
	expect_others_served();
	expect_clean_shutdown();
}

/* HELLO built by hand: proto_encode refuses versions and magics it knows are wrong. */
static void send_hello(int s, uint32_t seq, uint32_t magic, uint16_t min_version, uint16_t max_version)
{
	uint8_t buf[PROTO_HEADER_SIZE + 8];

	put_header(buf, PROTO_OP_HELLO, seq, 8);
	put_le(buf + PROTO_HEADER_SIZE, magic, 4);
	put_le(buf + PROTO_HEADER_SIZE + 4, min_version, 2);
	put_le(buf + PROTO_HEADER_SIZE + 6, max_version, 2);
	raw_send(s, buf, sizeof(buf));
}

Test(hostile, a_hello_without_a_common_version_gets_eversion_and_the_connection_is_closed)
{
	int s = raw_connect(), t = raw_connect();

	send_hello(s, 3, PROTO_MAGIC, PROTO_VERSION + 1, PROTO_VERSION + 5);
	expect_reply(s, PROTO_OP_HELLO, 3, PROTO_E_VERSION, NULL);
	expect_closed(s);

	/* A wrong magic is not a HELLO at all. */
	send_hello(t, 3, 0x12345678, PROTO_VERSION, PROTO_VERSION);
	expect_error(t, PROTO_E_PROTO);
	expect_closed(t);
	close(s);
	close(t);
	expect_others_served();
	expect_clean_shutdown();
}

Test(hostile, a_reply_sent_as_a_request_gets_eproto_and_the_connection_is_closed)
{
	struct proto_msg m = { .op = PROTO_OP_STAT | PROTO_REPLY_BIT, .seq = 5 };
	int s = raw_connect();

	m.u.stat_reply.size = 1;
	raw_hello(s);
	raw_request(s, &m);
	expect_error(s, PROTO_E_PROTO);
	expect_closed(s);
	close(s);
	expect_others_served();
	expect_clean_shutdown();
}

Test(hostile, a_name_of_300_bytes_gets_enametoolong_and_the_connection_stays)
{
	uint8_t buf[PROTO_HEADER_SIZE + 2 + 300];
	int s = raw_connect();

	raw_hello(s);
	put_header(buf, PROTO_OP_STAT, 6, 2 + 300);
	put_le(buf + PROTO_HEADER_SIZE, 300, 2);
	memset(buf + PROTO_HEADER_SIZE + 2, 'n', 300);
	raw_send(s, buf, sizeof(buf));
	expect_reply(s, PROTO_OP_STAT, 6, PROTO_E_NAMETOOLONG, NULL);
	raw_stat(s, 7, "no-such-segment", PROTO_E_NOENT);
	close(s);
	expect_others_served();
	expect_clean_shutdown();
}

Test(hostile, arguments_the_decoder_lets_through_are_refused_by_the_daemon_without_closing)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("args");
	struct proto_msg m = { .op = PROTO_OP_ACQUIRE };
	uint8_t buf[512];
	size_t n;
	int s = raw_connect();

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	raw_hello(s);
	/* proto_encode is strict, so encode a valid request and break it by hand. */
	m.seq = 10;
	m.u.acquire = (struct proto_acquire){ .flags = PROTO_ACQ_READ, .timeout_ms = 0 };
	snprintf(m.u.acquire.name, sizeof(m.u.acquire.name), "%s", name);
	n = encode(&m, buf, sizeof(buf));
	put_le(buf + PROTO_HEADER_SIZE + 16, PROTO_ACQ_READ | PROTO_ACQ_WRITE, 4);
	raw_send(s, buf, n);
	expect_reply(s, PROTO_OP_ACQUIRE, 10, PROTO_E_INVAL, NULL);

	m.seq = 11;
	n = encode(&m, buf, sizeof(buf));
	put_le(buf + PROTO_HEADER_SIZE + 20, (uint32_t)-2, 4); /* timeout -2 */
	raw_send(s, buf, n);
	expect_reply(s, PROTO_OP_ACQUIRE, 11, PROTO_E_INVAL, NULL);

	m.seq = 12;
	n = encode(&m, buf, sizeof(buf));
	buf[PROTO_HEADER_SIZE + 42] = '/'; /* the name's first byte (after have_segment_id, after and N) */
	raw_send(s, buf, n);
	expect_reply(s, PROTO_OP_ACQUIRE, 12, PROTO_E_INVAL, NULL);

	raw_stat(s, 13, name, PROTO_OK);
	close(s);
	shmbuf_disconnect(c);
	expect_others_served();
	expect_clean_shutdown();
}

/* ---- file descriptors and sizes ---- */

Test(hostile, a_file_descriptor_sent_with_a_request_gets_ebadfd_and_the_connection_is_closed)
{
	struct proto_msg m = { .op = PROTO_OP_STAT, .seq = 8 };
	uint8_t buf[512];
	int p[2], baseline = daemon_fd_count(), s = raw_connect(), after;
	size_t n;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	raw_hello(s);
	snprintf(m.u.segment.name, sizeof(m.u.segment.name), "x");
	n = encode(&m, buf, sizeof(buf));
	cr_assert_eq(fdio_send(s, buf, n, p[0]), 0);
	expect_error(s, PROTO_E_BADFD);
	expect_closed(s);
	close(s);
	after = daemon_fd_count_settles(baseline, 10000);
	cr_assert_eq(after, baseline, "the daemon has %d fds, %d before: it kept the fd it was sent", after,
		     baseline);
	close(p[0]);
	close(p[1]);
	expect_others_served();
	expect_clean_shutdown();
}

Test(hostile, several_file_descriptors_in_one_message_get_ebadfd_and_none_is_kept)
{
	struct proto_msg m = { .op = PROTO_OP_STAT, .seq = 8 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(3 * sizeof(int))];
	} control = { 0 };
	uint8_t buf[512];
	struct iovec iov = { .iov_base = buf };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *cmsg;
	int p[2], fds[3], baseline = daemon_fd_count(), s = raw_connect(), after;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = p[0];
	raw_hello(s);
	snprintf(m.u.segment.name, sizeof(m.u.segment.name), "x");
	iov.iov_len = encode(&m, buf, sizeof(buf));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
	cr_assert_eq(sendmsg(s, &msg, MSG_NOSIGNAL), (ssize_t)iov.iov_len, "sendmsg: %s", strerror(errno));
	expect_error(s, PROTO_E_BADFD);
	expect_closed(s);
	close(s);
	after = daemon_fd_count_settles(baseline, 10000);
	cr_assert_eq(after, baseline, "the daemon has %d fds, %d before: it kept fds it was sent", after,
		     baseline);
	close(p[0]);
	close(p[1]);
	expect_others_served();
	expect_clean_shutdown();
}

Test(hostile, a_datagram_of_100000_bytes_gets_emsgsize_and_the_connection_stays)
{
	const size_t size = 100000;
	uint8_t *buf = calloc(1, size);
	int s = raw_connect();

	cr_assert_not_null(buf);
	raw_hello(s);
	put_header(buf, PROTO_OP_STAT, 20, (uint32_t)(size - PROTO_HEADER_SIZE));
	raw_send(s, buf, size);
	free(buf);
	expect_error(s, PROTO_E_MSGSIZE);
	raw_stat(s, 21, "no-such-segment", PROTO_E_NOENT);
	close(s);
	expect_others_served();
	expect_clean_shutdown();
}

/* ---- clients that misbehave over time ---- */

Test(hostile, a_client_that_hangs_up_while_waiting_leaves_no_trace)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("hangup");
	struct proto_msg m = { .op = PROTO_OP_ACQUIRE, .seq = 30 };
	int baseline, s, after;
	shmbuf_view w;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	baseline = daemon_fd_count();
	s = raw_connect();
	raw_hello(s);
	m.u.acquire = (struct proto_acquire){ .length = 10, .flags = PROTO_ACQ_READ, .timeout_ms = -1 };
	snprintf(m.u.acquire.name, sizeof(m.u.acquire.name), "%s", name);
	raw_request(s, &m);
	cr_assert_eq(wait_for_waiters(c, name, 1, 10000), 0);
	close(s);
	cr_assert_eq(wait_for_waiters(c, name, 0, 10000), 0, "the waiter is gone with its connection");
	after = daemon_fd_count_settles(baseline, 10000);
	cr_assert_eq(after, baseline, "the daemon has %d fds, %d before", after, baseline);

	/* Releasing wakes nobody (no fd is sent to a closed socket) and the range is free. */
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	shmbuf_disconnect(c);
	expect_others_served();
	expect_clean_shutdown();
}

Test(hostile, a_client_that_floods_requests_without_reading_does_not_hold_up_others)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("flood");
	struct proto_msg m = { .op = PROTO_OP_STAT };
	bool throttled = false, disconnected = false;
	uint32_t sent = 0, got = 0;
	shmbuf_stat_info st;
	uint8_t buf[512];
	int64_t t0, took;
	size_t n;
	int s = raw_connect();

	cr_assert_eq(shmbuf_create(c, name, 12345, 0600), 0);
	raw_hello(s);
	snprintf(m.u.segment.name, sizeof(m.u.segment.name), "%s", name);
	n = encode(&m, buf, sizeof(buf));
	while (sent < 10000) {
		struct pollfd pfd = { .fd = s, .events = POLLOUT };

		put_le(buf + 4, sent + 100, 4); /* seq */
		if (send(s, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n) {
			sent++;
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET) {
			disconnected = true;
			break;
		}
		cr_assert(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR, "send: %s",
			  strerror(errno));
		/* Full: the daemon has stopped reading from us. Still full a second later = throttled. */
		if (poll(&pfd, 1, 1000) == 0) {
			throttled = true;
			break;
		}
	}
	cr_assert(throttled || disconnected, "all %u requests went through without the daemon pushing back",
		  sent);

	/* Meanwhile another client is served at once. */
	t0 = now_ms();
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	took = now_ms() - t0;
	cr_assert_lt(took, 10000, "a stat took %lld ms while another client flooded", (long long)took);
	cr_assert_eq(st.size, 12345);

	/* The flooder's replies come in order, every one of them unless it was cut off. */
	for (;;) {
		long r = raw_recv(s, &m);

		if (r <= 0) {
			cr_assert(r == 0 || r == -ECONNRESET, "after %u of %u replies: %s", got, sent,
				  strerror((int)-r));
			disconnected = true;
			break;
		}
		cr_assert_eq(m.seq, got + 100, "reply %u has seq %u", got, m.seq);
		cr_assert_eq(m.status, PROTO_OK);
		cr_assert_eq(m.u.stat_reply.size, 12345);
		if (++got == sent && !disconnected)
			break;
	}
	cr_log_info("flood: %u requests sent before the daemon %s; %u replies read", sent,
		    disconnected ? "disconnected the client" : "stopped reading (back-pressure)", got);
	if (!disconnected)
		raw_stat(s, 99999, name, PROTO_OK); /* and once it reads, it is served again */
	close(s);
	shmbuf_disconnect(c);
	expect_others_served();
	expect_clean_shutdown();
}

Test(hostile, releasing_another_clients_lease_is_refused_with_enoent)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("theirs");
	struct proto_msg m = { .op = PROTO_OP_RELEASE, .seq = 40 };
	shmbuf_stat_info st;
	shmbuf_view w;
	int s = raw_connect();

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	raw_hello(s);
	m.u.release.lease_id = w.lease_id;
	raw_request(s, &m);
	expect_reply(s, PROTO_OP_RELEASE, 40, PROTO_E_NOENT, NULL);
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.write_leases, 1, "the lease is still held");
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	close(s);
	shmbuf_disconnect(c);
	expect_others_served();
	expect_clean_shutdown();
}

/* CPU time (user + system, in clock ticks) the daemon has used so far. */
static long daemon_cpu_ticks(void)
{
	char path[64], buf[1024], *p;
	unsigned long utime, stime;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)daemon_pid());
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	cr_assert_not_null(p);
	cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime), 2);
	return (long)(utime + stime);
}

Test(hostile, a_client_that_half_closes_with_replies_unread_does_not_make_the_daemon_spin)
{
	const char *name = seg_name("halfclose");
	shmbuf_client *c = client_new();
	struct proto_msg m = { .op = PROTO_OP_STAT };
	struct pollfd pfd;
	uint8_t buf[512];
	long before, used;
	size_t n;
	int s = raw_connect();

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	raw_hello(s);
	snprintf(m.u.segment.name, sizeof(m.u.segment.name), "%s", name);
	n = encode(&m, buf, sizeof(buf));
	/* Fill both directions until the daemon stops reading from us... */
	for (uint32_t seq = 100;; seq++) {
		put_le(buf + 4, seq, 4);
		if (send(s, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n)
			continue;
		cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "send: %s", strerror(errno));
		pfd = (struct pollfd){ .fd = s, .events = POLLOUT };
		if (poll(&pfd, 1, 500) == 0)
			break;
	}
	/* ...then hang up our sending side while its replies wait unread. The
	 * daemon must sit idle until we read, not poll the hang-up in a loop. */
	cr_assert_eq(shutdown(s, SHUT_WR), 0);
	before = daemon_cpu_ticks();
	pfd = (struct pollfd){ .fd = -1 };
	poll(&pfd, 0, 1000); /* a second of wall time to measure over; nothing to wait for */
	used = daemon_cpu_ticks() - before;
	cr_assert_lt(used, sysconf(_SC_CLK_TCK) / 4, "the daemon used %ld of %ld ticks in one idle second", used,
		     sysconf(_SC_CLK_TCK));
	close(s);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_others_served();
	expect_clean_shutdown();
}

/* ---- tampering through a writable fd ---- */

/* A raw ACQUIRE that keeps the fd the daemon passes (libshmbuf closes it after mmap). */
static int raw_acquire_fd(int s, uint32_t seq, const char *name, unsigned flags, uint64_t *lease_id)
{
	static uint8_t buf[PROTO_MAX_MESSAGE];
	struct pollfd pfd = { .fd = s, .events = POLLIN };
	struct proto_msg m = { .op = PROTO_OP_ACQUIRE, .seq = seq };
	int fd = -1;
	long n;

	m.u.acquire.flags = flags;
	snprintf(m.u.acquire.name, sizeof(m.u.acquire.name), "%s", name);
	raw_request(s, &m);
	cr_assert_eq(poll(&pfd, 1, REPLY_TIMEOUT_MS), 1, "no ACQUIRE reply");
	n = fdio_recv(s, buf, sizeof(buf), &fd);
	cr_assert_gt(n, 0);
	cr_assert_eq(proto_decode(buf, (size_t)n, &m, NULL), 0);
	cr_assert_eq(m.status, PROTO_OK, "ACQUIRE failed: %s", m.u.error.message);
	cr_assert_geq(fd, 0, "a granted ACQUIRE carries an fd");
	*lease_id = m.u.acquire_reply.lease_id;
	return fd;
}

Test(hostile, a_writer_that_truncates_the_segment_through_its_fd_has_the_size_restored_on_release)
{
	const char *name = seg_name("tamper");
	shmbuf_client *c = client_new();
	struct proto_msg m = { .op = PROTO_OP_RELEASE, .seq = 3 };
	shmbuf_stat_info st;
	struct stat fst;
	uint64_t id;
	int s = raw_connect(), fd;

	cr_assert_eq(shmbuf_create(c, name, 65536, 0600), 0);
	raw_hello(s);
	fd = raw_acquire_fd(s, 2, name, PROTO_ACQ_WRITE, &id);
	cr_assert_eq(ftruncate(fd, 4096), 0, "a write lease's fd is writable: %s", strerror(errno));
	m.u.release.lease_id = id;
	raw_request(s, &m);
	expect_reply(s, PROTO_OP_RELEASE, 3, PROTO_OK, NULL);
	/* The RELEASE reply is sent after the check, so the size is already back. */
	cr_assert_eq(fstat(fd, &fst), 0);
	cr_assert_eq(fst.st_size, 65536, "the object was left at %lld bytes", (long long)fst.st_size);
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.size, 65536);
	close(fd);

	/* Memory allocated past the end keeps the size but takes /dev/shm pages. */
	fd = raw_acquire_fd(s, 5, name, PROTO_ACQ_WRITE, &id);
	cr_assert_eq(fallocate(fd, FALLOC_FL_KEEP_SIZE, 65536, 1 << 20), 0, "fallocate: %s", strerror(errno));
	m.seq = 6;
	m.u.release.lease_id = id;
	raw_request(s, &m);
	expect_reply(s, PROTO_OP_RELEASE, 6, PROTO_OK, NULL);
	cr_assert_eq(fstat(fd, &fst), 0);
	cr_assert_eq(fst.st_size, 65536);
	cr_assert_leq((long long)fst.st_blocks * 512, 65536, "%lld bytes still allocated",
		      (long long)fst.st_blocks * 512);
	close(fd);

	/* A read lease's fd cannot change the size at all. */
	fd = raw_acquire_fd(s, 4, name, PROTO_ACQ_READ, &id);
	cr_assert_neq(ftruncate(fd, 4096), 0, "ftruncate through a read-only fd must fail");
	close(fd);
	close(s);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_others_served();
	expect_clean_shutdown();
}

Test(hostile, a_kept_writable_fd_that_changes_the_size_is_restored_at_once_and_named)
{
	const char *name = seg_name("kept-rw");
	shmbuf_client *c = client_new();
	struct proto_msg m = { .op = PROTO_OP_RELEASE, .seq = 3 };
	char who[64];
	struct stat st;
	uint64_t id;
	int s = raw_connect(), fd;

	cr_assert_eq(shmbuf_create(c, name, 65536, 0600), 0);
	raw_hello(s);
	fd = raw_acquire_fd(s, 2, name, PROTO_ACQ_WRITE, &id);
	m.u.release.lease_id = id;
	raw_request(s, &m);
	expect_reply(s, PROTO_OP_RELEASE, 3, PROTO_OK, NULL);
	/* No lease is held and none will end: the change is noticed by itself. */
	cr_assert_eq(ftruncate(fd, 4096), 0);
	cr_expect_eq(fd_size_settles(fd, 65536, 5000), 65536, "a shrink through a kept fd was not put back");
	cr_assert_eq(ftruncate(fd, 1 << 30), 0);
	cr_expect_eq(fd_size_settles(fd, 65536, 5000), 65536, "a growth through a kept fd was not put back");
	cr_assert_eq(fallocate(fd, FALLOC_FL_KEEP_SIZE, 65536, 1 << 20), 0);
	for (int64_t end = now_ms() + 5000; now_ms() < end; usleep(5000))
		if (fstat(fd, &st) == 0 && st.st_blocks * 512 <= 65536)
			break;
	cr_expect_leq((long long)st.st_blocks * 512, 65536, "memory allocated past the end was kept");
	/* The holder of the writable fd is named (this process: the raw connection). */
	snprintf(who, sizeof(who), "writable fd: client %d (", (int)getpid());
	cr_expect(daemon_log_contains(who), "the log does not name the holder: want '%s'", who);
	close(fd);
	close(s);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_others_served();
	expect_clean_shutdown();
}

Test(hostile, a_sealed_segment_keeps_its_size_whoever_holds_its_fd)
{
	const char *name = seg_name("sealed");
	shmbuf_client *c = client_new();
	shmbuf_segment_info *segs;
	shmbuf_view v;
	struct stat st;
	uint64_t id;
	size_t n;
	int s = raw_connect(), fd;

	cr_assert_eq(shmbuf_create(c, name, 65536, 0600 | SHMBUF_SEALED), 0);
	raw_hello(s);
	fd = raw_acquire_fd(s, 2, name, PROTO_ACQ_WRITE, &id);
	/* The kernel refuses, not the daemon after the fact. */
	cr_expect_neq(ftruncate(fd, 4096), 0);
	cr_expect_eq(errno, EPERM);
	cr_expect_neq(ftruncate(fd, 1 << 30), 0);
	cr_expect_neq(fallocate(fd, FALLOC_FL_KEEP_SIZE, 65536, 1 << 20), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_expect_eq(st.st_size, 65536);
	cr_expect_eq(st.st_mode & 07777, 0600, "a memfd left %o could be reopened writable", st.st_mode & 07777);
	close(fd);
	close(s);
	/* The mapping works as any other; RESIZE is refused. */
	/* Waits: the raw connection, closed just now, may still hold its write lease. */
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 10000, &v, sizeof(v)), 0);
	memset(v.data, 0x5a, v.len);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_expect_eq(shmbuf_resize(c, name, 131072), -EPERM);
	cr_assert_eq(shmbuf_list_segments(c, &segs, &n, sizeof(*segs)), 0);
	cr_assert_eq(n, 1);
	cr_expect(segs[0].flags & SHMBUF_SEGMENT_SEALED);
	shmbuf_free(segs);
	cr_expect_eq(shmbuf_create(c, seg_name("bad"), 4096, 0600 | 0x20000u), -EINVAL);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_others_served();
	expect_clean_shutdown();
}

/* ---- too many connections ---- */

#define MAX_CONNECTIONS 8
#define STORM 1100

static void connection_limit_setup(void)
{
	static const char *const args[] = { "--max-connections", "8", NULL };

	daemon_start(args);
}

TestSuite(connection_limit, .init = connection_limit_setup, .fini = daemon_teardown, .timeout = 30);

Test(connection_limit, connections_past_the_limit_get_elimit_and_are_closed)
{
	int baseline = daemon_fd_count(), *s = calloc(STORM, sizeof(int)), after, r;
	shmbuf_client *c = NULL;

	cr_assert_not_null(s);
	/* All at once: none is served before the last one connects. */
	for (int i = 0; i < STORM; i++)
		s[i] = raw_connect();
	for (int i = 0; i < MAX_CONNECTIONS; i++)
		raw_hello(s[i]);
	for (int i = MAX_CONNECTIONS; i < STORM; i++) {
		expect_error(s[i], PROTO_E_LIMIT);
		expect_closed(s[i]);
		close(s[i]);
	}
	r = shmbuf_connect(daemon_socket(), &c);
	cr_assert_eq(r, -EDQUOT, "libshmbuf over the limit: %s (%s)", shmbuf_strerror(r),
		     shmbuf_last_error_detail());

	/* One leaves; once the daemon has closed its side there is room for one more. */
	close(s[0]);
	after = daemon_fd_count_settles(baseline + MAX_CONNECTIONS - 1, 10000);
	cr_assert_eq(after, baseline + MAX_CONNECTIONS - 1);
	c = client_new();
	shmbuf_disconnect(c);

	for (int i = 1; i < MAX_CONNECTIONS; i++)
		close(s[i]);
	free(s);
	after = daemon_fd_count_settles(baseline, 10000);
	cr_assert_eq(after, baseline, "the daemon has %d fds, %d before the storm", after, baseline);
	expect_others_served();
	expect_clean_shutdown();
}

/* ---- connections per user ---- */

static void user_limit_setup(void)
{
	static const char *const args[] = { "--max-user-connections", "3", NULL };

	daemon_start(args);
}

TestSuite(user_limit, .init = user_limit_setup, .fini = daemon_teardown, .timeout = 30);

/* As an unprivileged user (root is exempt): three connections, a fourth refused,
 * and a slot free again once one of the three is gone. */
static int connect_as_nobody(void *arg)
{
	shmbuf_client *c[3], *extra = NULL;
	int r;

	(void)arg;
	CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0);
	for (int i = 0; i < 3; i++)
		CHILD_CHECK(shmbuf_connect(daemon_socket(), &c[i]) == 0);
	r = shmbuf_connect(daemon_socket(), &extra);
	CHILD_CHECK(r == -EDQUOT);
	CHILD_CHECK(strstr(shmbuf_last_error_detail(), "limit") != NULL);
	shmbuf_disconnect(c[0]);
	/* The daemon counts the departure when it reaps the connection: poll for the free slot. */
	for (int64_t end = now_ms() + 10000; (r = shmbuf_connect(daemon_socket(), &extra)) == -EDQUOT;) {
		CHILD_CHECK(now_ms() < end);
		poll(NULL, 0, 10);
	}
	CHILD_CHECK(r == 0);
	shmbuf_disconnect(extra);
	shmbuf_disconnect(c[1]);
	shmbuf_disconnect(c[2]);
	return 0;
}

Test(user_limit, one_user_past_its_connection_limit_gets_edquot_and_root_is_exempt)
{
	char dir[256];
	shmbuf_client *c[5];

	/* Let the unprivileged child reach this test's private socket. */
	snprintf(dir, sizeof(dir), "%s", daemon_socket());
	*strrchr(dir, '/') = '\0';
	cr_assert_eq(chmod(dir, 0711), 0);
	cr_assert_eq(chmod(daemon_socket(), 0666), 0);
	child_expect_exit(child_spawn(connect_as_nobody, NULL), 0);
	for (int i = 0; i < 5; i++)
		c[i] = client_new(); /* root: past the per-user limit of 3 */
	for (int i = 0; i < 5; i++)
		shmbuf_disconnect(c[i]);
	expect_clean_shutdown();
}

/* ---- the handshake deadline ---- */

static void handshake_setup(void)
{
	static const char *const args[] = { "--handshake-timeout", "1", NULL };

	daemon_start(args);
}

TestSuite(handshake, .init = handshake_setup, .fini = daemon_teardown, .timeout = 30);

Test(handshake, a_client_that_never_says_hello_is_dropped_and_one_that_did_stays)
{
	int silent = raw_connect(), greeted = raw_connect();
	struct pollfd pfd = { .fd = silent, .events = POLLIN };

	raw_hello(greeted);
	/* Nothing is sent on silent; the daemon speaks first once the second is up. */
	cr_assert_eq(poll(&pfd, 1, 10000), 1, "no word from the daemon within 10 s of a silent connect");
	expect_error(silent, PROTO_E_PROTO);
	expect_closed(silent);
	raw_stat(greeted, 2, "no-such-segment", PROTO_E_NOENT); /* still served */
	close(silent);
	close(greeted);
	expect_others_served();
	expect_clean_shutdown();
}

/* ---- creates that preallocate off the loop ---- */

/* The daemon's /dev/shm prefix, computed as it does (FNV-1a of the socket path, xor its uid). */
static void daemon_shm_prefix(char *out, size_t cap)
{
	uint32_t h = 2166136261u;

	for (const char *p = daemon_socket(); *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	snprintf(out, cap, "shmbuf.%08x.", h ^ (uint32_t)geteuid());
}

Test(hostile, a_large_create_cut_short_by_the_client_leaving_and_sigterm_leaves_nothing)
{
	struct proto_msg m = { .op = PROTO_OP_CREATE, .seq = 2 };
	char prefix[64];
	int s = raw_connect();

	daemon_shm_prefix(prefix, sizeof(prefix));
	raw_hello(s);
	m.u.segment.size = 512u << 20; /* reserved on the thread pool, for a while */
	m.u.segment.mode = 0600;
	snprintf(m.u.segment.name, sizeof(m.u.segment.name), "%s", seg_name("big"));
	raw_request(s, &m);
	close(s); /* without waiting for the answer */
	expect_clean_shutdown(); /* SIGTERM right away: the create may still be under way */
	cr_assert_eq(shm_count(prefix), 0, "objects /dev/shm/%s* outlived the daemon", prefix);
}

Test(hostile, a_large_segment_made_off_the_loop_works_like_any_other)
{
	const char *name = seg_name("large");
	shmbuf_client *a = client_new(), *b = client_new();
	shmbuf_stat_info st;
	shmbuf_view w, r;

	cr_assert_eq(shmbuf_create(a, name, 64u << 20, 0600), 0);
	cr_assert_eq(shmbuf_create(b, name, 4096, 0600), -EEXIST);
	cr_assert_eq(shmbuf_stat(b, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.size, 64u << 20);
	cr_assert_eq(shmbuf_acquire(a, name, (64u << 20) - 4096, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	pattern_fill(w.data, w.len, w.offset, 9);
	cr_assert_eq(shmbuf_release(a, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_acquire(b, name, (64u << 20) - 4096, 4096, SHMBUF_READ, 0, &r, sizeof(r)), 0);
	cr_assert_eq(pattern_mismatch(r.data, r.len, r.offset, 9), -1);
	cr_assert_eq(shmbuf_release(b, &r, sizeof(r)), 0);
	cr_assert_eq(shmbuf_destroy(b, name), 0);
	shmbuf_disconnect(a);
	shmbuf_disconnect(b);
	expect_clean_shutdown();
}

Test(hostile, a_large_grow_runs_off_the_loop_and_a_destroy_meanwhile_frees_everything)
{
	const char *name = seg_name("grow");
	shmbuf_client *a = client_new();
	struct proto_msg m = { .op = PROTO_OP_RESIZE, .seq = 2 }, d = { .op = PROTO_OP_DESTROY, .seq = 3 };
	shmbuf_server_status st;
	shmbuf_stat_info info;
	shmbuf_view v;
	char prefix[64];
	int s = raw_connect(), resize_status = -1, destroy_status = -1;

	daemon_shm_prefix(prefix, sizeof(prefix));
	/* A plain grow by 64 MiB: done on the thread pool, then usable to its new end. */
	cr_assert_eq(shmbuf_create(a, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_resize(a, name, 64u << 20), 0);
	cr_assert_eq(shmbuf_stat(a, name, &info, sizeof(info)), 0);
	cr_assert_eq(info.size, 64u << 20);
	cr_assert_eq(shmbuf_acquire(a, name, (64u << 20) - 10, 10, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	memset(v.data, 0xab, 10);
	cr_assert_eq(shmbuf_release(a, &v, sizeof(v)), 0);

	/* A grow by 1 GiB with a DESTROY right behind it, most likely while it runs. */
	raw_hello(s);
	m.u.segment.size = 1u << 30;
	snprintf(m.u.segment.name, sizeof(m.u.segment.name), "%s", name);
	snprintf(d.u.segment.name, sizeof(d.u.segment.name), "%s", name);
	raw_request(s, &m);
	raw_request(s, &d);
	for (int i = 0; i < 2; i++) {
		struct proto_msg r;

		cr_assert_gt(raw_recv(s, &r), 0, "a reply for each request");
		if (r.seq == 2)
			resize_status = r.status;
		else if (r.seq == 3)
			destroy_status = r.status;
	}
	cr_assert_eq(destroy_status, PROTO_OK);
	cr_assert(resize_status == PROTO_OK || resize_status == PROTO_E_NOENT, "RESIZE: %s",
		  proto_status_name((uint16_t)resize_status));
	/* Once the grow is over, nothing is left or counted. */
	for (int64_t end = now_ms() + 10000;; poll(NULL, 0, 10)) {
		cr_assert_eq(shmbuf_server_status_get(a, &st, sizeof(st)), 0);
		if (st.bytes == 0 && st.segments == 0)
			break;
		cr_assert_lt(now_ms(), end, "still %llu bytes in %u segments", (unsigned long long)st.bytes,
			     st.segments);
	}
	close(s);
	shmbuf_disconnect(a);
	expect_clean_shutdown();
	cr_assert_eq(shm_count(prefix), 0, "objects /dev/shm/%s* outlived the daemon", prefix);
}
