/* SPDX-License-Identifier: MIT */
/* test_proto.c: wire format round trips, malformed input, fuzzing, status mapping and socket path. */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "layout.h"

#define BUF_SIZE 8192 /* a full LIST_LEASES page is about 5.3 KiB */
#define MAX_SAMPLES 96

static char long_name[PROTO_NAME_MAX + 1]; /* 255 bytes of printable ASCII */
/* proto_msg is 5 KiB with a LIST page in it: keep the samples off the stack. */
static struct proto_msg samples[MAX_SAMPLES];

static void init_long_name(void)
{
	for (int i = 0; i < PROTO_NAME_MAX; i++)
		long_name[i] = (char)(0x20 + i % 95);
	long_name[0] = 'L'; /* printable, and not '/' */
	long_name[PROTO_NAME_MAX] = '\0';
}

static struct proto_msg request(uint16_t op, uint32_t seq)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.op = op;
	m.seq = seq;
	return m;
}

static struct proto_msg reply(uint16_t op, uint32_t seq)
{
	return request((uint16_t)(op | PROTO_REPLY_BIT), seq);
}

/* One valid message of every kind, requests and replies, including boundary values. */
static size_t build_samples(struct proto_msg *s)
{
	size_t n = 0;
	uint32_t seq = 1;

	init_long_name();

	s[n] = request(PROTO_OP_HELLO, seq++);
	s[n++].u.hello = (struct proto_hello){ PROTO_MAGIC, 1, 1 };
	s[n] = request(PROTO_OP_HELLO, 0xffffffffu);
	s[n++].u.hello = (struct proto_hello){ PROTO_MAGIC, 1, 0xffff };

	s[n] = request(PROTO_OP_CREATE, seq++);
	s[n].u.segment.size = 4096;
	s[n].u.segment.mode = 0600;
	strcpy(s[n++].u.segment.name, "seg");
	s[n] = request(PROTO_OP_CREATE, seq++);
	s[n].u.segment.size = UINT64_MAX;
	s[n].u.segment.mode = 0777;
	s[n].u.segment.flags = PROTO_CREATE_SEALED;
	strcpy(s[n++].u.segment.name, long_name);

	s[n] = request(PROTO_OP_DESTROY, seq++);
	strcpy(s[n++].u.segment.name, "a");
	s[n] = request(PROTO_OP_DESTROY, seq++);
	strcpy(s[n++].u.segment.name, long_name);

	s[n] = request(PROTO_OP_RESIZE, seq++);
	s[n].u.segment.size = 1ull << 40;
	strcpy(s[n++].u.segment.name, "name with spaces ~");
	s[n] = request(PROTO_OP_RESIZE, seq++);
	strcpy(s[n++].u.segment.name, long_name);

	s[n] = request(PROTO_OP_ACQUIRE, seq++);
	s[n].u.acquire = (struct proto_acquire){ .offset = 10, .length = 0, .flags = PROTO_ACQ_READ,
						 .timeout_ms = -1 };
	strcpy(s[n++].u.acquire.name, "x");
	s[n] = request(PROTO_OP_ACQUIRE, seq++);
	s[n].u.acquire = (struct proto_acquire){ .offset = UINT64_MAX - 1, .length = 5,
						 .flags = PROTO_ACQ_WRITE, .timeout_ms = INT32_MAX };
	strcpy(s[n++].u.acquire.name, long_name);
	s[n] = request(PROTO_OP_ACQUIRE, seq++);
	s[n].u.acquire = (struct proto_acquire){ .offset = 0, .length = UINT64_MAX, .flags = PROTO_ACQ_WRITE };
	strcpy(s[n++].u.acquire.name, "t0");

	s[n] = request(PROTO_OP_RELEASE, seq++);
	s[n++].u.release.lease_id = 0;
	s[n] = request(PROTO_OP_RELEASE, seq++);
	s[n++].u.release.lease_id = UINT64_MAX;

	s[n] = request(PROTO_OP_STAT, seq++);
	strcpy(s[n++].u.segment.name, "seg");
	s[n] = request(PROTO_OP_CHMOD, seq++);
	s[n].u.chmod.mode = 0777;
	strcpy(s[n++].u.chmod.name, long_name);
	s[n] = request(PROTO_OP_CHOWN, seq++);
	s[n].u.chown = (struct proto_chown){ .uid = PROTO_ID_KEEP, .gid = 0 };
	strcpy(s[n++].u.chown.name, "seg");
	s[n] = request(PROTO_OP_STAT, seq++);
	strcpy(s[n++].u.segment.name, long_name);

	s[n] = reply(PROTO_OP_HELLO, seq++);
	s[n].u.hello_reply.version = 1;
	s[n].u.hello_reply.max_message = PROTO_MAX_MESSAGE;
	s[n].u.hello_reply.server_pid = 1234;
	strcpy(s[n++].u.hello_reply.server_version, "0.1.0");
	s[n] = reply(PROTO_OP_HELLO, seq++);
	s[n].u.hello_reply.version = 0xffff;
	s[n].u.hello_reply.max_message = UINT32_MAX;
	s[n].u.hello_reply.server_pid = UINT32_MAX;
	memset(s[n++].u.hello_reply.server_version, 'v', PROTO_VERSION_STR_MAX);
	s[n++] = reply(PROTO_OP_HELLO, seq++); /* empty version string */

	s[n++] = reply(PROTO_OP_CREATE, seq++);
	s[n++] = reply(PROTO_OP_DESTROY, seq++);
	s[n++] = reply(PROTO_OP_RESIZE, seq++);
	s[n++] = reply(PROTO_OP_RELEASE, seq++);

	s[n] = reply(PROTO_OP_ACQUIRE, seq++);
	s[n++].u.acquire_reply = (struct proto_acquire_reply){ .lease_id = 7, .offset = 4096, .length = 8192,
							       .segment_size = 1ull << 33, .segment_id = 3,
							       .flags = PROTO_ACQ_READ | PROTO_ACQ_FD };
	s[n] = reply(PROTO_OP_ACQUIRE, seq++);
	s[n++].u.acquire_reply = (struct proto_acquire_reply){ UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX,
							       UINT64_MAX, PROTO_ACQ_WRITE, UINT64_MAX };

	s[n] = reply(PROTO_OP_STAT, seq++);
	s[n++].u.stat_reply = (struct proto_stat_reply){ 1ull << 50, 0640, 1000, 100, 3, 1, 2, 77 };
	s[n] = reply(PROTO_OP_STAT, seq++);
	s[n++].u.stat_reply = (struct proto_stat_reply){ UINT64_MAX, 0777, UINT32_MAX, UINT32_MAX, UINT32_MAX,
							 UINT32_MAX, UINT32_MAX, UINT64_MAX };

	/* Introspection. */
	s[n++] = request(PROTO_OP_STATUS, seq++);
	s[n++] = request(PROTO_OP_SUBSCRIBE, seq++);
	s[n++] = request(PROTO_OP_LIST_SEGMENTS, seq++);
	s[n] = request(PROTO_OP_LIST_LEASES, seq++);
	s[n].u.list.cursor = 17;
	strcpy(s[n++].u.list.name, "seg");
	s[n] = request(PROTO_OP_LIST_LEASES, seq++);
	strcpy(s[n++].u.list.name, long_name);
	s[n] = request(PROTO_OP_LIST_CLIENTS, seq++);
	s[n++].u.list.cursor = UINT64_MAX;
	s[n] = request(PROTO_OP_LIST_USERS, seq++);
	s[n++].u.list.cursor = 4243;

	s[n] = reply(PROTO_OP_STATUS, seq++);
	s[n].u.status_reply = (struct proto_status_reply){ 4321, 1700000000000000000ull, 5000000000ull,
							   1ull << 20, 1ull << 30, 3, 1024, 2, 64, 4, 1, 2,
							   "0.1.0", "/run/shmbuf/shmbufd.sock", 1, 250, 3, 4, 5 };
	n++;
	s[n] = reply(PROTO_OP_STATUS, seq++);
	s[n].u.status_reply.server_pid = UINT32_MAX;
	s[n].u.status_reply.max_bytes = UINT64_MAX;
	memset(s[n].u.status_reply.server_version, 'v', PROTO_VERSION_STR_MAX);
	memset(s[n++].u.status_reply.socket_path, 'p', PROTO_NAME_MAX);
	s[n++] = reply(PROTO_OP_STATUS, seq++); /* empty strings */

	s[n++] = reply(PROTO_OP_LIST_SEGMENTS, seq++); /* empty listing */
	s[n] = reply(PROTO_OP_LIST_SEGMENTS, seq++);
	s[n].u.list_reply.next_cursor = 16;
	s[n].u.list_reply.count = PROTO_LIST_PAGE;
	for (int i = 0; i < PROTO_LIST_PAGE; i++) {
		struct proto_segment_entry *e = &s[n].u.list_reply.e.segments[i];

		*e = (struct proto_segment_entry){ (uint64_t)i + 1, 4096u * (uint64_t)i, 1ull << 60, UINT64_MAX - (uint64_t)i, 0640, 1000,
						   100, 4242, (uint32_t)i, 1, 2, i % 2 ? PROTO_SEG_DESTROYED : 0, "" };
		strcpy(e->name, i % 2 ? long_name : "seg");
	}
	n++;
	s[n] = reply(PROTO_OP_LIST_LEASES, seq++);
	s[n].u.list_reply.count = PROTO_LIST_PAGE; /* the largest message there is */
	for (int i = 0; i < PROTO_LIST_PAGE; i++) {
		struct proto_lease_entry *e = &s[n].u.list_reply.e.leases[i];

		*e = (struct proto_lease_entry){ (uint64_t)i, 7, UINT64_MAX, 1, 99, PROTO_LEASE_WRITE | PROTO_LEASE_WAITING,
						 1, 2, PROTO_SEG_DESTROYED, "", "", UINT64_MAX };
		memset(e->comm, 'c', PROTO_COMM_MAX);
		strcpy(e->segment, long_name);
	}
	n++;
	s[n] = reply(PROTO_OP_LIST_CLIENTS, seq++);
	s[n].u.list_reply.next_cursor = 3;
	s[n].u.list_reply.count = 3;
	s[n].u.list_reply.e.clients[0] = (struct proto_client_entry){ 1, 2, 3, 4, 5, 6, 7, PROTO_CLIENT_SELF, "shmbufctl" };
	s[n].u.list_reply.e.clients[1] = (struct proto_client_entry){ 2, 0, 0, 0, 0, 0, 0, PROTO_CLIENT_SUBSCRIBED, "" };
	/* comm is whatever the process called itself: not limited to printable ASCII. */
	s[n++].u.list_reply.e.clients[2] = (struct proto_client_entry){ 3, UINT64_MAX, UINT32_MAX, UINT32_MAX,
									UINT32_MAX, UINT32_MAX, UINT32_MAX, 0,
									"\x01tab\there\xff" };
	s[n++] = reply(PROTO_OP_SUBSCRIBE, seq++);
	s[n] = reply(PROTO_OP_LIST_USERS, seq++);
	s[n].u.list_reply.next_cursor = UINT32_MAX;
	s[n].u.list_reply.count = 2;
	s[n].u.list_reply.e.users[0] = (struct proto_user_entry){ 0, PROTO_USER_EXEMPT, 1, 1024, 0, 4096, 0, 0, 0,
								  UINT64_MAX };
	s[n++].u.list_reply.e.users[1] = (struct proto_user_entry){ UINT32_MAX, 0, UINT32_MAX, UINT32_MAX, UINT32_MAX,
								    UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT64_MAX,
								    UINT64_MAX };

	s[n] = reply(PROTO_OP_EVENT, 0);
	s[n].u.event = (struct proto_event){ PROTO_EV_LEASE_ACQUIRED, 1700000000123456789ull, 5, 9, 4096, 8192,
					     1ull << 20, PROTO_LEASE_WRITE, 777, 1000, "writer", "seg", 0 };
	n++;
	s[n] = reply(PROTO_OP_EVENT, 0);
	s[n].u.event = (struct proto_event){ .type = PROTO_EV_CLIENT_CONNECTED, .client_id = 6 };
	memset(s[n++].u.event.comm, 'c', PROTO_COMM_MAX);
	s[n] = reply(PROTO_OP_EVENT, 0);
	s[n].u.event.type = PROTO_EV_TYPE_MAX;
	strcpy(s[n++].u.event.segment, long_name);

	for (uint16_t st = 1; st < PROTO_STATUS_COUNT; st++) {
		s[n] = reply((uint16_t)(1 + st % PROTO_OP_SUBSCRIBE), seq++);
		s[n].status = st;
		snprintf(s[n++].u.error.message, PROTO_ERRMSG_MAX + 1, "failure %s", proto_status_name(st));
	}
	s[n] = reply(PROTO_OP_ACQUIRE, seq++);
	s[n].status = PROTO_E_BUSY;
	memset(s[n++].u.error.message, 'e', PROTO_ERRMSG_MAX);
	s[n] = reply(PROTO_OP_CREATE, seq++);
	s[n++].status = PROTO_E_EXIST; /* empty message */
	s[n] = reply(0x1234, seq++);   /* the answer to an opcode the daemon does not know */
	s[n].status = PROTO_E_NOTSUP;
	strcpy(s[n++].u.error.message, "unknown opcode");

	cr_assert(n <= MAX_SAMPLES);
	return n;
}

static size_t encode_ok(const struct proto_msg *m, uint8_t *buf)
{
	int n = proto_encode(m, buf, BUF_SIZE);

	cr_assert_gt(n, 0, "encoding %s (op 0x%x) failed: %d", proto_op_name(m->op), m->op, n);
	return (size_t)n;
}

static void assert_round_trips(const struct proto_msg *m)
{
	uint8_t buf[BUF_SIZE], again[BUF_SIZE];
	struct proto_msg out;
	const char *why = NULL;
	size_t n = encode_ok(m, buf);
	int r;

	memset(&out, 0, sizeof(out)); /* decode writes only the op's payload struct */

	cr_assert_eq(n, PROTO_HEADER_SIZE + (buf[8] | buf[9] << 8 | buf[10] << 16 | (uint32_t)buf[11] << 24));
	r = proto_decode(buf, n, &out, &why);
	cr_assert_eq(r, 0, "decoding %s (op 0x%x) failed: %d (%s)", proto_op_name(m->op), m->op, r, why);
	cr_assert_eq(memcmp(&out, m, sizeof(out)), 0, "%s (op 0x%x) changed in a round trip",
		     proto_op_name(m->op), m->op);
	cr_assert_eq(encode_ok(&out, again), n);
	cr_assert_eq(memcmp(buf, again, n), 0);
}

/* Encode sample m, then let the caller mangle the bytes. */
static size_t encode_sample(uint16_t op, uint8_t *buf, struct proto_msg *picked)
{
	struct proto_msg *s = samples;
	size_t n = build_samples(s);

	for (size_t i = 0; i < n; i++)
		if (s[i].op == op && s[i].status == PROTO_OK) {
			if (picked)
				*picked = s[i];
			return encode_ok(&s[i], buf);
		}
	cr_assert_fail("no sample for op 0x%x", op);
	return 0;
}

static void set_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void set_u32(uint8_t *p, uint32_t v)
{
	set_u16(p, (uint16_t)v);
	set_u16(p + 2, (uint16_t)(v >> 16));
}

static void fix_length(uint8_t *buf, size_t len)
{
	set_u32(buf + 8, (uint32_t)(len - PROTO_HEADER_SIZE));
}

static int decode(const uint8_t *buf, size_t len, struct proto_msg *m)
{
	const char *why = NULL;
	int r = proto_decode(buf, len, m, &why);

	if (r < 0) {
		cr_assert_not_null(why, "error %d without a reason", r);
		cr_assert_gt(strlen(why), 0);
	}
	return r;
}

/* ---- round trips ---- */

Test(proto, every_sample_message_round_trips)
{
	struct proto_msg *s = samples;
	size_t n = build_samples(s);

	for (size_t i = 0; i < n; i++)
		assert_round_trips(&s[i]);
}

Test(proto, hello_round_trips)
{
	struct proto_msg m = request(PROTO_OP_HELLO, 42);

	m.u.hello = (struct proto_hello){ PROTO_MAGIC, 1, 3 };
	assert_round_trips(&m);
}

Test(proto, acquire_round_trips_with_a_max_length_name)
{
	struct proto_msg m = request(PROTO_OP_ACQUIRE, 9);

	init_long_name();
	m.u.acquire = (struct proto_acquire){ 1, 2, PROTO_ACQ_WRITE | PROTO_ACQ_NEWER, 250, UINT64_MAX, UINT64_MAX, "" };
	memcpy(m.u.acquire.name, long_name, sizeof(long_name));
	cr_assert_eq(strlen(m.u.acquire.name), PROTO_NAME_MAX);
	assert_round_trips(&m);
}

Test(proto, error_reply_round_trips_for_every_status)
{
	for (uint16_t st = 1; st < PROTO_STATUS_COUNT; st++) {
		struct proto_msg req = request(PROTO_OP_STAT, st), m;

		proto_make_error(&m, &req, st, proto_status_name(st));
		assert_round_trips(&m);
	}
}

Test(proto, acquire_request_has_the_documented_wire_bytes)
{
	static const uint8_t want[] = {
		0x05, 0x00, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01, /* op 5, status 0, seq 0x01020304 */
		45, 0, 0, 0, 0, 0, 0, 0,                        /* length 45, reserved 0 */
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* offset */
		0x10, 0, 0, 0, 0, 0, 0, 0,                      /* length */
		0x02, 0, 0, 0,                                  /* flags WRITE */
		0xff, 0xff, 0xff, 0xff,                         /* timeout -1 */
		0x99, 0, 0, 0, 0, 0, 0, 0,                      /* have_segment_id */
		0, 0, 0, 0, 0, 0, 0, 0,                         /* after */
		3, 0, 's', 'e', 'g',                            /* name */
	};
	struct proto_msg m = request(PROTO_OP_ACQUIRE, 0x01020304);
	uint8_t buf[BUF_SIZE];

	m.u.acquire = (struct proto_acquire){ 0x1122334455667788ull, 0x10, PROTO_ACQ_WRITE, -1, 0x99, 0, "seg" };
	cr_assert_eq(encode_ok(&m, buf), sizeof(want));
	cr_assert_eq(memcmp(buf, want, sizeof(want)), 0);
}

Test(proto, hello_magic_reads_shmb_on_the_wire)
{
	struct proto_msg m = request(PROTO_OP_HELLO, 1);
	uint8_t buf[BUF_SIZE];

	m.u.hello = (struct proto_hello){ PROTO_MAGIC, 1, 1 };
	cr_assert_eq(encode_ok(&m, buf), PROTO_HEADER_SIZE + 8);
	cr_assert_eq(memcmp(buf + PROTO_HEADER_SIZE, "SHMB", 4), 0);
}

Test(proto, error_reply_has_the_documented_wire_bytes)
{
	static const uint8_t want[] = {
		0x05, 0x80, 0x06, 0x00, 0x07, 0, 0, 0, /* ACQUIRE reply, status EBUSY, seq 7 */
		4, 0, 0, 0, 0, 0, 0, 0,
		2, 0, 'n', 'o',
	};
	struct proto_msg req = request(PROTO_OP_ACQUIRE, 7), m;
	uint8_t buf[BUF_SIZE];

	proto_make_error(&m, &req, PROTO_E_BUSY, "no");
	cr_assert_eq(encode_ok(&m, buf), sizeof(want));
	cr_assert_eq(memcmp(buf, want, sizeof(want)), 0);
}

/* ---- golden bytes: every layout, written out by hand ----
 *
 * Each case builds a message, and gives the datagram it must become as hex
 * written by hand from docs/protocol.md section 6 (not produced by the
 * encoder): encoding must give exactly these bytes, decoding them must give
 * back exactly the message. A layout bug made the same way in the encoder and
 * the decoder fails here. "|" separates the header, fields and entries. */

struct golden {
	const char *what;
	void (*build)(struct proto_msg *m);
	const char *hex;
};

static size_t parse_hex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = hex; *p; p++) {
		unsigned v;

		if (*p == ' ' || *p == '|')
			continue;
		cr_assert(sscanf(p, "%2x", &v) == 1 && p[1] && n < cap, "bad golden hex at '%s'", p);
		out[n++] = (uint8_t)v;
		p++;
	}
	return n;
}

static void g_hello(struct proto_msg *m)
{
	*m = request(PROTO_OP_HELLO, 1);
	m->u.hello = (struct proto_hello){ PROTO_MAGIC, 1, 2 };
}

static void g_create(struct proto_msg *m)
{
	*m = request(PROTO_OP_CREATE, 2);
	m->u.segment.size = 8192;
	m->u.segment.mode = 0600;
	strcpy(m->u.segment.name, "frames");
}

static void g_destroy(struct proto_msg *m)
{
	*m = request(PROTO_OP_DESTROY, 7);
	strcpy(m->u.segment.name, "frames");
}

static void g_resize(struct proto_msg *m)
{
	*m = request(PROTO_OP_RESIZE, 5);
	m->u.segment.size = 65536;
	strcpy(m->u.segment.name, "frames");
}

static void g_acquire(struct proto_msg *m)
{
	*m = request(PROTO_OP_ACQUIRE, 3);
	m->u.acquire = (struct proto_acquire){ 4096, 0, PROTO_ACQ_READ | PROTO_ACQ_NEWER, -1, 0, 41, "frames" };
}

static void g_release(struct proto_msg *m)
{
	*m = request(PROTO_OP_RELEASE, 4);
	m->u.release.lease_id = 0x0102030405060708ull;
	m->u.release.flags = PROTO_RELEASE_QUIET;
}

static void g_stat(struct proto_msg *m)
{
	*m = request(PROTO_OP_STAT, 6);
	strcpy(m->u.segment.name, "frames");
}

static void g_status(struct proto_msg *m)
{
	*m = request(PROTO_OP_STATUS, 3);
}

static void g_list_segments(struct proto_msg *m)
{
	*m = request(PROTO_OP_LIST_SEGMENTS, 4);
}

static void g_list_leases(struct proto_msg *m)
{
	*m = request(PROTO_OP_LIST_LEASES, 5);
	m->u.list.cursor = 16;
	strcpy(m->u.list.name, "frames");
}

static void g_list_clients(struct proto_msg *m)
{
	*m = request(PROTO_OP_LIST_CLIENTS, 6);
	m->u.list.cursor = 0x0102030405060708ull;
}

static void g_subscribe(struct proto_msg *m)
{
	*m = request(PROTO_OP_SUBSCRIBE, 7);
}

static void g_hello_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_HELLO, 1);
	m->u.hello_reply = (struct proto_hello_reply){ 2, 4096, 19766, "0.2.0" };
}

static void g_create_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_CREATE, 2);
}

static void g_destroy_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_DESTROY, 7);
}

static void g_resize_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_RESIZE, 5);
}

static void g_acquire_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_ACQUIRE, 3);
	m->u.acquire_reply = (struct proto_acquire_reply){ 1, 4096, 4096, 8192, 2, PROTO_ACQ_WRITE | PROTO_ACQ_FD, 41 };
}

static void g_cancel(struct proto_msg *m)
{
	*m = request(PROTO_OP_CANCEL, 9);
	m->u.cancel.acquire_seq = 3;
}

static void g_cancel_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_CANCEL, 9);
}

static void g_reclaim(struct proto_msg *m)
{
	*m = request(PROTO_OP_RECLAIM, 10);
	m->u.reclaim = (struct proto_reclaim){ 0x0102030405060708ull, 2, 4096, 8192, PROTO_ACQ_WRITE };
}

static void g_reclaim_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_RECLAIM, 10);
}

static void g_release_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_RELEASE, 4);
}

static void g_stat_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_STAT, 6);
	m->u.stat_reply = (struct proto_stat_reply){ 8192, 0600, 1000, 100, 1, 0, 2, 41 };
}

static void g_status_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_STATUS, 3);
	m->u.status_reply = (struct proto_status_reply){
		42, 0x0102030405060708ull, 1000000000, 8192, 64 << 20, 1, 4096, 2, 1024, 3, 4, 5, "0.1.0", "/run/s.sock",
		2, 9500, 6, 7, 8,
	};
}

static void g_list_segments_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_LIST_SEGMENTS, 4);
	m->u.list_reply.count = 1;
	m->u.list_reply.e.segments[0] = (struct proto_segment_entry){
		1, 8192, 0x0102030405060708ull, 41, 0600, 1000, 100, 0x1234, 1, 0, 2, PROTO_SEG_DESTROYED, "frames",
	};
}

static void g_list_leases_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_LIST_LEASES, 5);
	m->u.list_reply.next_cursor = 7;
	m->u.list_reply.count = 1;
	m->u.list_reply.e.leases[0] = (struct proto_lease_entry){
		7, 2, 4096, 4096, 1000000000, PROTO_LEASE_WRITE | PROTO_LEASE_WAITING, 0x1234, 1000, 0, "cat", "frames", 6,
	};
}

static void g_list_clients_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_LIST_CLIENTS, 6);
	m->u.list_reply.count = 2;
	m->u.list_reply.e.clients[0] = (struct proto_client_entry){ 1, 5, 0x1234, 1000, 100, 1, 0, PROTO_CLIENT_SELF, "sh" };
	m->u.list_reply.e.clients[1] = (struct proto_client_entry){ 2, 6, 0x1235, 0, 0, 0, 1, PROTO_CLIENT_SUBSCRIBED, "" };
}

static void g_subscribe_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_SUBSCRIBE, 7);
}

static void g_unmap(struct proto_msg *m)
{
	*m = request(PROTO_OP_UNMAP, 8);
	m->u.unmap = (struct proto_unmap){ .segment_id = 0x0102030405060708ull, .modes = PROTO_ACQ_READ | PROTO_ACQ_WRITE };
}

static void g_unmap_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_UNMAP, 0);
	m->u.unmap_reply.segment_id = 5;
}

static void g_chmod(struct proto_msg *m)
{
	*m = request(PROTO_OP_CHMOD, 9);
	m->u.chmod.mode = 0640;
	strcpy(m->u.chmod.name, "frames");
}

static void g_chmod_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_CHMOD, 9);
}

static void g_chown(struct proto_msg *m)
{
	*m = request(PROTO_OP_CHOWN, 10);
	m->u.chown = (struct proto_chown){ .uid = 1000, .gid = PROTO_ID_KEEP };
	strcpy(m->u.chown.name, "frames");
}

static void g_chown_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_CHOWN, 10);
}

static void g_list_users(struct proto_msg *m)
{
	*m = request(PROTO_OP_LIST_USERS, 11);
}

static void g_list_users_reply(struct proto_msg *m)
{
	*m = reply(PROTO_OP_LIST_USERS, 11);
	m->u.list_reply.count = 1;
	m->u.list_reply.e.users[0] = (struct proto_user_entry){
		.uid = 1000, .connections = 2, .max_connections = 512, .segments = 1, .max_segments = 1024,
		.leases = 3, .max_leases = 4096, .bytes = 8192, .max_bytes = 1ull << 30,
	};
}

static void g_event(struct proto_msg *m)
{
	*m = reply(PROTO_OP_EVENT, 0);
	m->u.event = (struct proto_event){
		PROTO_EV_LEASE_CANCELLED, 0x0102030405060708ull, 2, 7, 4096, 4096, 8192, PROTO_LEASE_WRITE, 0x1234, 1000,
		"cat", "frames", PROTO_CANCEL_TIMEOUT,
	};
}

static void g_error(struct proto_msg *m)
{
	struct proto_msg req = request(PROTO_OP_ACQUIRE, 6);

	proto_make_error(m, &req, PROTO_E_RANGE, "no");
}

static const struct golden goldens[] = {
	{ "HELLO", g_hello, "0100 0000 01000000 08000000 00000000 | 53484d42 | 0100 | 0200" },
	{ "CREATE", g_create,
	  "0200 0000 02000000 18000000 00000000 | 0020000000000000 | 80010000 | 00000000 | 0600 6672616d6573" },
	{ "DESTROY", g_destroy, "0300 0000 07000000 08000000 00000000 | 0600 6672616d6573" },
	{ "RESIZE", g_resize, "0400 0000 05000000 10000000 00000000 | 0000010000000000 | 0600 6672616d6573" },
	{ "ACQUIRE", g_acquire,
	  "0500 0000 03000000 30000000 00000000 | 0010000000000000 | 0000000000000000 | 05000000 | ffffffff"
	  " | 0000000000000000 | 2900000000000000 | 0600 6672616d6573" },
	{ "RELEASE", g_release, "0600 0000 04000000 10000000 00000000 | 0807060504030201 | 01000000 | 00000000" },
	{ "STAT", g_stat, "0700 0000 06000000 08000000 00000000 | 0600 6672616d6573" },
	{ "STATUS", g_status, "0800 0000 03000000 00000000 00000000" },
	{ "LIST_SEGMENTS", g_list_segments, "0900 0000 04000000 0a000000 00000000 | 0000000000000000 | 0000" },
	{ "LIST_LEASES", g_list_leases,
	  "0a00 0000 05000000 10000000 00000000 | 1000000000000000 | 0600 6672616d6573" },
	{ "LIST_CLIENTS", g_list_clients, "0b00 0000 06000000 0a000000 00000000 | 0807060504030201 | 0000" },
	{ "SUBSCRIBE", g_subscribe, "0c00 0000 07000000 00000000 00000000" },
	{ "HELLO reply", g_hello_reply,
	  "0180 0000 01000000 13000000 00000000 | 0200 | 0000 | 00100000 | 364d0000 | 0500 302e322e30" },
	{ "CREATE reply", g_create_reply, "0280 0000 02000000 00000000 00000000" },
	{ "DESTROY reply", g_destroy_reply, "0380 0000 07000000 00000000 00000000" },
	{ "RESIZE reply", g_resize_reply, "0480 0000 05000000 00000000 00000000" },
	{ "ACQUIRE reply", g_acquire_reply,
	  "0580 0000 03000000 38000000 00000000 | 0100000000000000 | 0010000000000000 | 0010000000000000"
	  " | 0020000000000000 | 0200000000000000 | 02010000 | 00000000 | 2900000000000000" },
	{ "RELEASE reply", g_release_reply, "0680 0000 04000000 00000000 00000000" },
	{ "STAT reply", g_stat_reply,
	  "0780 0000 06000000 28000000 00000000 | 0020000000000000 | 80010000 | e8030000 | 64000000 | 01000000"
	  " | 00000000 | 02000000 | 2900000000000000" },
	{ "STATUS reply", g_status_reply,
	  "0880 0000 03000000 68000000 00000000 | 2a000000 | 0807060504030201 | 00ca9a3b00000000"
	  " | 0020000000000000 | 0000000400000000 | 01000000 | 00100000 | 02000000 | 00040000 | 03000000"
	  " | 04000000 | 05000000 | 0500 302e312e30 | 0b00 2f72756e2f732e736f636b"
	  " | 02000000 | 1c250000 | 06000000 | 07000000 | 08000000" },
	{ "LIST_SEGMENTS reply", g_list_segments_reply,
	  "0980 0000 04000000 54000000 00000000 | 0000000000000000 | 01000000"
	  " | 0100000000000000 0020000000000000 0807060504030201 2900000000000000 80010000 e8030000 64000000 34120000"
	  " 01000000 00000000 02000000 01000000 0600 6672616d6573" },
	{ "LIST_LEASES reply", g_list_leases_reply,
	  "0a80 0000 05000000 59000000 00000000 | 0700000000000000 | 01000000"
	  " | 0700000000000000 0200000000000000 0010000000000000 0010000000000000 00ca9a3b00000000"
	  " 03000000 34120000 e8030000 00000000 0300 636174 0600 6672616d6573 0600000000000000" },
	{ "LIST_CLIENTS reply", g_list_clients_reply,
	  "0b80 0000 06000000 62000000 00000000 | 0000000000000000 | 02000000"
	  " | 0100000000000000 0500000000000000 34120000 e8030000 64000000 01000000 00000000 01000000 0200 7368"
	  " | 0200000000000000 0600000000000000 35120000 00000000 00000000 00000000 01000000 02000000 0000" },
	{ "SUBSCRIBE reply", g_subscribe_reply, "0c80 0000 07000000 00000000 00000000" },
	{ "UNMAP", g_unmap, "0d00 0000 08000000 10000000 00000000 | 0807060504030201 | 03000000 | 00000000" },
	{ "CANCEL", g_cancel, "0e00 0000 09000000 08000000 00000000 | 03000000 | 00000000" },
	{ "CANCEL reply", g_cancel_reply, "0e80 0000 09000000 00000000 00000000" },
	{ "RECLAIM", g_reclaim,
	  "1400 0000 0a000000 28000000 00000000 | 0807060504030201 | 0200000000000000 | 0010000000000000"
	  " | 0020000000000000 | 02000000 | 00000000" },
	{ "RECLAIM reply", g_reclaim_reply, "1480 0000 0a000000 00000000 00000000" },
	{ "UNMAP from the daemon", g_unmap_reply, "0d80 0000 00000000 08000000 00000000 | 0500000000000000" },
	{ "CHMOD", g_chmod, "0f00 0000 09000000 10000000 00000000 | a0010000 | 00000000 | 0600 6672616d6573" },
	{ "CHMOD reply", g_chmod_reply, "0f80 0000 09000000 00000000 00000000" },
	{ "CHOWN", g_chown, "1000 0000 0a000000 10000000 00000000 | e8030000 | ffffffff | 0600 6672616d6573" },
	{ "CHOWN reply", g_chown_reply, "1080 0000 0a000000 00000000 00000000" },
	{ "LIST_USERS", g_list_users, "1100 0000 0b000000 0a000000 00000000 | 0000000000000000 | 0000" },
	{ "LIST_USERS reply", g_list_users_reply,
	  "1180 0000 0b000000 3c000000 00000000 | 0000000000000000 | 01000000"
	  " | e8030000 00000000 02000000 00020000 01000000 00040000 03000000 00100000"
	  " 0020000000000000 0000004000000000" },
	{ "EVENT", g_event,
	  "4080 0000 00000000 4f000000 00000000 | 0800 | 0807060504030201 | 0200000000000000 | 0700000000000000"
	  " | 0010000000000000 | 0010000000000000 | 0020000000000000 | 01000000 | 34120000 | e8030000"
	  " | 0300 636174 | 0600 6672616d6573 | 01000000" },
	{ "error reply", g_error, "0580 0900 06000000 04000000 00000000 | 0200 6e6f" },
};

/* Bytes of m->u that m's op uses: the size of its payload struct, which the
 * closing entry of its field table carries (proto/layout.h). */
static size_t payload_size(const struct proto_msg *m)
{
	const struct op_layouts *ops = proto_op_layouts(m->op);
	const struct field *f;

	if (m->status != PROTO_OK)
		f = proto_error_layout.fields;
	else
		f = m->op & PROTO_REPLY_BIT ? ops->reply.fields : ops->request.fields;
	while (f->kind != FK_END)
		f++;
	return f->offset;
}

Test(proto, every_layout_encodes_to_its_golden_bytes_and_back)
{
	for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		const struct golden *g = &goldens[i];
		struct proto_msg *m = &samples[0], *back = &samples[1];
		uint8_t want[BUF_SIZE], got[BUF_SIZE];
		size_t want_len = parse_hex(g->hex, want, sizeof(want));
		int len;

		g->build(m);
		len = proto_encode(m, got, sizeof(got));
		cr_assert_eq(len, (int)want_len, "%s: encoded %d bytes, want %zu", g->what, len, want_len);
		for (size_t b = 0; b < want_len; b++)
			cr_assert_eq(got[b], want[b], "%s: byte %zu is %02x, want %02x", g->what, b, got[b], want[b]);
		memset(back, 0xa5, sizeof(*back)); /* what decode does not write must not matter */
		cr_assert_eq(decode(want, want_len, back), 0, "%s", g->what);
		memset((uint8_t *)&back->u + payload_size(back), 0, sizeof(back->u) - payload_size(back));
		cr_assert_eq(memcmp(back, m, sizeof(*m)), 0, "%s: decoded fields differ", g->what);
	}
}

/* Every direction of every opcode in the message table (PROTO_NONE: no such message). */
#define OP_DIRECTIONS_(name, value, request, reply)                               \
	{ PROTO_OP_##name, strcmp(#request, "PROTO_NONE") != 0 },                  \
	{ PROTO_OP_##name | PROTO_REPLY_BIT, strcmp(#reply, "PROTO_NONE") != 0 },

Test(proto, every_opcode_has_golden_bytes_for_each_direction)
{
	const struct { uint16_t op; bool exists; } dirs[] = { PROTO_OPS(OP_DIRECTIONS_) };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		bool found = false;

		if (!dirs[i].exists)
			continue;
		for (size_t g = 0; g < sizeof(goldens) / sizeof(goldens[0]) && !found; g++) {
			goldens[g].build(&samples[0]);
			found = samples[0].op == dirs[i].op && samples[0].status == PROTO_OK;
		}
		cr_assert(found, "no golden bytes for op 0x%04x", dirs[i].op);
	}
}

/* ---- malformed input ---- */

Test(proto, every_truncation_of_every_message_fails)
{
	struct proto_msg *s = samples, m;
	size_t n = build_samples(s);
	uint8_t buf[BUF_SIZE], cut[BUF_SIZE];

	for (size_t i = 0; i < n; i++) {
		size_t len = encode_ok(&s[i], buf);

		for (size_t k = 0; k < len; k++) {
			/* As received: the header still claims the full length. */
			cr_assert_eq(decode(buf, k, &m), -EBADMSG, "op 0x%x cut at %zu", s[i].op, k);
			if (k < PROTO_HEADER_SIZE)
				continue;
			/* As a liar would send it: header length matches the cut payload. */
			memcpy(cut, buf, k);
			fix_length(cut, k);
			cr_assert_eq(decode(cut, k, &m), -EBADMSG, "op 0x%x cut at %zu, length fixed", s[i].op,
				     k);
		}
	}
}

Test(proto, trailing_bytes_fail)
{
	struct proto_msg *s = samples, m;
	size_t n = build_samples(s);
	uint8_t buf[BUF_SIZE];

	for (size_t i = 0; i < n; i++) {
		size_t len = encode_ok(&s[i], buf);
		const char *why = NULL;

		buf[len++] = 0;
		fix_length(buf, len);
		cr_assert_eq(proto_decode(buf, len, &m, &why), -EBADMSG, "op 0x%x", s[i].op);
		cr_assert_not_null(why);
	}
}

Test(proto, trailing_bytes_reason_names_the_op)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];
	size_t len = encode_sample(PROTO_OP_RELEASE, buf, NULL);
	const char *why = NULL;

	buf[len++] = 0;
	fix_length(buf, len);
	cr_assert_eq(proto_decode(buf, len, &m, &why), -EBADMSG);
	cr_assert_str_eq(why, "trailing bytes after RELEASE");

	len = encode_sample(PROTO_OP_ACQUIRE, buf, NULL);
	fix_length(buf, len - 1);
	cr_assert_eq(proto_decode(buf, len - 1, &m, &why), -EBADMSG);
	cr_assert_str_eq(why, "payload shorter than ACQUIRE needs");
}

Test(proto, header_length_mismatch_fails)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];
	size_t len = encode_sample(PROTO_OP_STAT, buf, NULL);

	set_u32(buf + 8, (uint32_t)(len - PROTO_HEADER_SIZE + 1));
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);
	set_u32(buf + 8, (uint32_t)(len - PROTO_HEADER_SIZE - 1));
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);
	set_u32(buf + 8, UINT32_MAX);
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);
}

Test(proto, nonzero_reserved_header_bytes_fail)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];
	size_t len = encode_sample(PROTO_OP_STAT, buf, NULL);
	const char *why = NULL;

	for (int i = 12; i < 16; i++) {
		buf[i] = 0x80;
		cr_assert_eq(proto_decode(buf, len, &m, &why), -EBADMSG);
		cr_assert_str_eq(why, "reserved header field not zero");
		buf[i] = 0;
	}
	cr_assert_eq(decode(buf, len, &m), 0);
}

Test(proto, nonzero_reserved_payload_fields_fail)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];
	size_t len;

	len = encode_sample(PROTO_OP_CHMOD, buf, NULL);
	buf[PROTO_HEADER_SIZE + 4] = 1; /* u32 mode | u32 reserved */
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);

	len = encode_sample(PROTO_OP_HELLO | PROTO_REPLY_BIT, buf, NULL);
	buf[PROTO_HEADER_SIZE + 3] = 1; /* u16 version | u16 reserved */
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);

	len = encode_sample(PROTO_OP_ACQUIRE | PROTO_REPLY_BIT, buf, NULL);
	buf[len - 9] = 1; /* the u32 before the closing u64 generation is reserved */
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);
}

Test(proto, request_with_nonzero_status_fails)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];
	size_t len = encode_sample(PROTO_OP_RELEASE, buf, NULL);

	set_u16(buf + 2, PROTO_E_BUSY);
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);
}

Test(proto, nul_inside_a_name_fails)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];
	size_t len = encode_sample(PROTO_OP_DESTROY, buf, NULL); /* name "a" */
	const char *why = NULL;

	cr_assert_eq(buf[len - 1], 'a');
	buf[len - 1] = '\0';
	cr_assert_eq(proto_decode(buf, len, &m, &why), -EBADMSG);
	cr_assert_str_eq(why, "NUL byte inside name");
}

Test(proto, nul_inside_an_error_message_fails)
{
	struct proto_msg req = request(PROTO_OP_STAT, 1), m;
	uint8_t buf[BUF_SIZE];
	size_t len;

	proto_make_error(&m, &req, PROTO_E_NOENT, "abc");
	len = encode_ok(&m, buf);
	buf[len - 2] = '\0';
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);
}

Test(proto, empty_name_decodes_because_the_daemon_judges_it)
{
	static const uint8_t bytes[] = { 3, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];

	cr_assert_eq(decode(bytes, sizeof(bytes), &m), 0);
	cr_assert_eq(m.op, PROTO_OP_DESTROY);
	cr_assert_str_eq(m.u.segment.name, "");
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
}

static size_t destroy_with_name_len(uint8_t *buf, uint16_t name_len, uint32_t seq)
{
	size_t len = PROTO_HEADER_SIZE + 2 + name_len;

	memset(buf, 0, PROTO_HEADER_SIZE);
	set_u16(buf, PROTO_OP_DESTROY);
	set_u32(buf + 4, seq);
	fix_length(buf, len);
	set_u16(buf + PROTO_HEADER_SIZE, name_len);
	memset(buf + PROTO_HEADER_SIZE + 2, 'n', name_len);
	return len;
}

Test(proto, name_of_255_bytes_decodes_and_256_is_too_long)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];
	size_t len;

	len = destroy_with_name_len(buf, 255, 77);
	cr_assert_eq(decode(buf, len, &m), 0);
	cr_assert_eq(strlen(m.u.segment.name), 255);

	len = destroy_with_name_len(buf, 256, 78);
	cr_assert_eq(decode(buf, len, &m), -ENAMETOOLONG);
	cr_assert_eq(m.op, PROTO_OP_DESTROY);
	cr_assert_eq(m.seq, 78);

	len = destroy_with_name_len(buf, 600, 79);
	cr_assert_eq(decode(buf, len, &m), -ENAMETOOLONG);
	cr_assert_eq(m.seq, 79);
}

Test(proto, overlong_name_in_a_truncated_message_is_malformed)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];
	size_t len = destroy_with_name_len(buf, 256, 1);

	fix_length(buf, len - 1);
	cr_assert_eq(decode(buf, len - 1, &m), -EBADMSG);
}

Test(proto, unknown_op_is_not_supported_with_seq_set)
{
	/* EVENT is only ever a reply: as a request it is as unknown as 18. */
	static const uint16_t ops[] = { 0, 18, 63, PROTO_OP_EVENT, 65, 0x7fff, PROTO_REPLY_BIT,
					PROTO_REPLY_BIT | 18, PROTO_REPLY_BIT | 63, 0xffff };
	struct proto_msg m;
	uint8_t buf[PROTO_HEADER_SIZE + 4] = { 0 };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		set_u16(buf, ops[i]);
		set_u32(buf + 4, 0xabcd0000u + (uint32_t)i);
		fix_length(buf, sizeof(buf));
		cr_assert_eq(decode(buf, sizeof(buf), &m), -EOPNOTSUPP, "op 0x%x", ops[i]);
		cr_assert_eq(m.op, ops[i]);
		cr_assert_eq(m.seq, 0xabcd0000u + i);
	}
}

Test(proto, error_reply_to_an_unknown_op_decodes)
{
	static const uint8_t bytes[] = { 0x34, 0x92, 3, 0, 9, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, '?' };
	struct proto_msg m;

	cr_assert_eq(decode(bytes, sizeof(bytes), &m), 0);
	cr_assert_eq(m.op, 0x9234);
	cr_assert_eq(m.status, PROTO_E_NOTSUP);
	cr_assert_str_eq(m.u.error.message, "?");
}

Test(proto, error_reply_with_an_unknown_status_decodes_and_maps_to_eproto)
{
	static const uint8_t bytes[] = { 0x05, 0x80, 0xe7, 0x03, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0,
					 2, 0, 'h', 'i' };
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];

	cr_assert_eq(decode(bytes, sizeof(bytes), &m), 0);
	cr_assert_eq(m.status, 999);
	cr_assert_str_eq(m.u.error.message, "hi");
	cr_assert_eq(proto_status_to_errno(m.status), -EPROTO);
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
}

Test(proto, overlong_strings_in_replies_fail)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE] = { 0 };
	size_t len;

	/* error message of 201 bytes */
	set_u16(buf, PROTO_OP_STAT | PROTO_REPLY_BIT);
	set_u16(buf + 2, PROTO_E_NOENT);
	len = PROTO_HEADER_SIZE + 2 + PROTO_ERRMSG_MAX + 1;
	fix_length(buf, len);
	set_u16(buf + PROTO_HEADER_SIZE, PROTO_ERRMSG_MAX + 1);
	memset(buf + PROTO_HEADER_SIZE + 2, 'e', PROTO_ERRMSG_MAX + 1);
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);

	/* server version of 33 bytes */
	memset(buf, 0, sizeof(buf));
	set_u16(buf, PROTO_OP_HELLO | PROTO_REPLY_BIT);
	len = PROTO_HEADER_SIZE + 12 + 2 + PROTO_VERSION_STR_MAX + 1;
	fix_length(buf, len);
	set_u16(buf + PROTO_HEADER_SIZE + 12, PROTO_VERSION_STR_MAX + 1);
	memset(buf + PROTO_HEADER_SIZE + 14, 'v', PROTO_VERSION_STR_MAX + 1);
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);
}

Test(proto, bad_hello_fails)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];
	size_t len = encode_sample(PROTO_OP_HELLO, buf, NULL);
	uint8_t *p = buf + PROTO_HEADER_SIZE;
	const char *why = NULL;

	p[0] = 'X'; /* magic */
	cr_assert_eq(proto_decode(buf, len, &m, &why), -EBADMSG);
	cr_assert_str_eq(why, "HELLO magic is not \"SHMB\"");
	p[0] = 'S';
	set_u16(p + 4, 0); /* min_version 0 */
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);
	set_u16(p + 4, 3); /* min above max */
	set_u16(p + 6, 2);
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);
	set_u16(p + 6, 3);
	cr_assert_eq(decode(buf, len, &m), 0);
}

Test(proto, short_datagrams_fail_without_reading_past_them)
{
	struct proto_msg m;

	for (size_t len = 0; len < PROTO_HEADER_SIZE; len++) {
		uint8_t *exact = malloc(len ? len : 1); /* ASan/valgrind catch an overread */

		cr_assert_not_null(exact);
		memset(exact, 0, len ? len : 1);
		cr_assert_eq(decode(exact, len, &m), -EBADMSG);
		free(exact);
	}
	cr_assert_eq(proto_decode(NULL, 0, &m, NULL), -EBADMSG); /* why may be NULL */
}

Test(proto, semantic_errors_are_left_to_the_daemon)
{
	struct proto_msg in, m;
	uint8_t buf[BUF_SIZE];
	size_t len = encode_sample(PROTO_OP_ACQUIRE, buf, &in);

	set_u32(buf + PROTO_HEADER_SIZE + 16, 7);      /* flags */
	set_u32(buf + PROTO_HEADER_SIZE + 20, -5u);    /* timeout */
	cr_assert_eq(decode(buf, len, &m), 0);
	cr_assert_eq(m.u.acquire.flags, 7);
	cr_assert_eq(m.u.acquire.timeout_ms, -5);
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
}

/* ---- encoder strictness ---- */

static int encode_with_name(uint16_t op, const char *name, size_t name_len)
{
	struct proto_msg m = request(op, 1);
	uint8_t buf[BUF_SIZE];
	char *dst = op == PROTO_OP_ACQUIRE ? m.u.acquire.name : m.u.segment.name;

	if (op == PROTO_OP_ACQUIRE)
		m.u.acquire.flags = PROTO_ACQ_READ;
	memcpy(dst, name, name_len); /* may fill all 256 bytes with no NUL */
	return proto_encode(&m, buf, sizeof(buf));
}

Test(proto, encoder_rejects_invalid_names)
{
	static const uint16_t ops[] = { PROTO_OP_CREATE, PROTO_OP_DESTROY, PROTO_OP_RESIZE, PROTO_OP_ACQUIRE,
					PROTO_OP_STAT };
	char big[PROTO_NAME_MAX + 1];

	memset(big, 'b', sizeof(big));
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		cr_assert_gt(encode_with_name(ops[i], "ok", 3), 0);
		cr_assert_eq(encode_with_name(ops[i], "", 1), -EINVAL);
		cr_assert_eq(encode_with_name(ops[i], "/x", 3), -EINVAL);
		cr_assert_eq(encode_with_name(ops[i], "a\nb", 4), -EINVAL);
		cr_assert_eq(encode_with_name(ops[i], "a\x7f", 3), -EINVAL);
		cr_assert_eq(encode_with_name(ops[i], "\xc3\xa9", 3), -EINVAL);
		cr_assert_eq(encode_with_name(ops[i], big, sizeof(big)), -ENAMETOOLONG);
	}
}

Test(proto, encoder_rejects_bad_acquire_fields)
{
	static const uint32_t bad_flags[] = { 0, PROTO_ACQ_READ | PROTO_ACQ_WRITE, 4, 0x80000001u };
	struct proto_msg m = request(PROTO_OP_ACQUIRE, 1);
	uint8_t buf[BUF_SIZE];

	strcpy(m.u.acquire.name, "seg");
	for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		m.u.acquire.flags = bad_flags[i];
		cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "flags 0x%x", bad_flags[i]);
	}
	m.u.acquire.flags = PROTO_ACQ_READ;
	m.u.acquire.timeout_ms = -2;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.u.acquire.timeout_ms = INT32_MIN;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.u.acquire.timeout_ms = -1;
	cr_assert_gt(proto_encode(&m, buf, sizeof(buf)), 0);
}

Test(proto, encoder_rejects_other_invalid_messages)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];

	m = request(PROTO_OP_CREATE, 1);
	strcpy(m.u.segment.name, "seg");
	m.u.segment.mode = 01000;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "mode above 0777");
	m.u.segment.mode = 0600;
	m.u.segment.flags = 0x2;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "unknown CREATE flags");

	m = request(PROTO_OP_RELEASE, 1);
	m.status = PROTO_E_BUSY;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "request with a status");

	m = request(0, 1);
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "op 0");
	m = request(13, 1);
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "op 13");
	m = reply(13, 1);
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "successful reply to op 13");
	m = request(PROTO_OP_EVENT, 0);
	m.u.event.type = PROTO_EV_CLIENT_CONNECTED;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "EVENT as a request");

	m = reply(PROTO_OP_STAT, 1);
	m.status = PROTO_STATUS_COUNT;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "unknown status");

	m = request(PROTO_OP_HELLO, 1);
	m.u.hello = (struct proto_hello){ 0, 1, 1 };
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "HELLO without magic");
	m.u.hello = (struct proto_hello){ PROTO_MAGIC, 0, 1 };
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "HELLO min_version 0");
	m.u.hello = (struct proto_hello){ PROTO_MAGIC, 2, 1 };
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "HELLO min above max");

	m = reply(PROTO_OP_ACQUIRE, 1);
	m.u.acquire_reply.flags = 0;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "ACQUIRE reply without flags");

	m = reply(PROTO_OP_HELLO, 1);
	memset(m.u.hello_reply.server_version, 'v', sizeof(m.u.hello_reply.server_version));
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "unterminated 33-byte version");
}

Test(proto, encoder_reports_a_buffer_too_small)
{
	struct proto_msg *s = samples;
	size_t n = build_samples(s);
	uint8_t buf[BUF_SIZE], small[BUF_SIZE];

	for (size_t i = 0; i < n; i++) {
		size_t len = encode_ok(&s[i], buf);

		cr_assert_eq(proto_encode(&s[i], NULL, 0), -EMSGSIZE);
		for (size_t cap = 0; cap < len; cap++)
			cr_assert_eq(proto_encode(&s[i], small, cap), -EMSGSIZE, "op 0x%x cap %zu", s[i].op, cap);
		cr_assert_eq(proto_encode(&s[i], small, len), (int)len);
		cr_assert_eq(memcmp(small, buf, len), 0);
	}
}

Test(proto, encoder_truncates_long_error_messages)
{
	struct proto_msg req = request(PROTO_OP_CREATE, 5), m, out;
	char longmsg[400];
	uint8_t buf[BUF_SIZE];
	size_t len;

	memset(longmsg, 'z', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	proto_make_error(&m, &req, PROTO_E_INVAL, longmsg);
	cr_assert_eq(strlen(m.u.error.message), PROTO_ERRMSG_MAX);
	len = encode_ok(&m, buf);
	cr_assert_eq(len, PROTO_HEADER_SIZE + 2 + PROTO_ERRMSG_MAX);
	cr_assert_eq(decode(buf, len, &out), 0);
	cr_assert_eq(memcmp(&out, &m, sizeof(m)), 0);

	/* Even a message filling the array with no NUL goes out as 200 bytes. */
	memset(m.u.error.message, 'q', sizeof(m.u.error.message));
	cr_assert_eq(encode_ok(&m, buf), PROTO_HEADER_SIZE + 2 + PROTO_ERRMSG_MAX);
}

/* ---- introspection ---- */

static int encode_list_request(uint16_t op, const char *name, size_t name_len)
{
	struct proto_msg m = request(op, 1);
	uint8_t buf[BUF_SIZE];

	memcpy(m.u.list.name, name, name_len);
	return proto_encode(&m, buf, sizeof(buf));
}

Test(proto, only_list_leases_may_name_a_segment)
{
	char big[PROTO_NAME_MAX + 1];

	memset(big, 'b', sizeof(big));
	cr_assert_gt(encode_list_request(PROTO_OP_LIST_SEGMENTS, "", 1), 0);
	cr_assert_gt(encode_list_request(PROTO_OP_LIST_CLIENTS, "", 1), 0);
	cr_assert_gt(encode_list_request(PROTO_OP_LIST_LEASES, "", 1), 0);
	cr_assert_gt(encode_list_request(PROTO_OP_LIST_LEASES, "seg", 4), 0);
	cr_assert_eq(encode_list_request(PROTO_OP_LIST_SEGMENTS, "seg", 4), -EINVAL);
	cr_assert_eq(encode_list_request(PROTO_OP_LIST_CLIENTS, "seg", 4), -EINVAL);
	cr_assert_gt(encode_list_request(PROTO_OP_LIST_USERS, "", 1), 0);
	cr_assert_eq(encode_list_request(PROTO_OP_LIST_USERS, "seg", 4), -EINVAL);
	cr_assert_eq(encode_list_request(PROTO_OP_LIST_LEASES, "/seg", 5), -EINVAL);
	cr_assert_eq(encode_list_request(PROTO_OP_LIST_LEASES, big, sizeof(big)), -ENAMETOOLONG);
}

Test(proto, list_request_with_an_overlong_name_is_too_long_not_malformed)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE] = { 0 };
	size_t len = PROTO_HEADER_SIZE + 8 + 2 + 300;

	set_u16(buf, PROTO_OP_LIST_LEASES);
	set_u32(buf + 4, 55);
	fix_length(buf, len);
	set_u16(buf + PROTO_HEADER_SIZE + 8, 300);
	memset(buf + PROTO_HEADER_SIZE + 10, 's', 300);
	cr_assert_eq(decode(buf, len, &m), -ENAMETOOLONG);
	cr_assert_eq(m.op, PROTO_OP_LIST_LEASES);
	cr_assert_eq(m.seq, 55);
}

Test(proto, list_reply_holds_at_most_one_page)
{
	struct proto_msg m, in;
	uint8_t buf[BUF_SIZE];
	size_t len = encode_sample(PROTO_OP_LIST_SEGMENTS | PROTO_REPLY_BIT, buf, &in);

	/* The first sample is the empty listing: u64 next_cursor | u32 count. */
	cr_assert_eq(len, PROTO_HEADER_SIZE + 12);
	set_u32(buf + PROTO_HEADER_SIZE + 8, PROTO_LIST_PAGE + 1);
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);
	set_u32(buf + PROTO_HEADER_SIZE + 8, 1); /* claims an entry it does not carry */
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);

	in.u.list_reply.count = PROTO_LIST_PAGE + 1;
	cr_assert_eq(proto_encode(&in, buf, sizeof(buf)), -EINVAL);
}

Test(proto, a_complete_seventeenth_entry_is_refused_not_stored)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];
	size_t len = encode_sample(PROTO_OP_LIST_LEASES | PROTO_REPLY_BIT, buf, NULL);
	size_t entry = (len - PROTO_HEADER_SIZE - 12) / PROTO_LIST_PAGE;

	/* Well-formed in every other way: only the count limit protects the entries array. */
	cr_assert_leq(len + entry, sizeof(buf));
	memcpy(buf + len, buf + len - entry, entry);
	len += entry;
	fix_length(buf, len);
	set_u32(buf + PROTO_HEADER_SIZE + 8, PROTO_LIST_PAGE + 1);
	cr_assert_eq(decode(buf, len, &m), -EBADMSG);
}

Test(proto, a_full_lease_page_fits_in_the_largest_message)
{
	uint8_t buf[BUF_SIZE];
	size_t len = encode_sample(PROTO_OP_LIST_LEASES | PROTO_REPLY_BIT, buf, NULL);

	cr_assert_eq(len, PROTO_HEADER_SIZE + 12 + PROTO_LIST_PAGE * (5 * 8 + 4 * 4 + 2 + PROTO_COMM_MAX + 2 +
								       PROTO_NAME_MAX + 8));
	cr_assert_leq(len, PROTO_MAX_MESSAGE);
}

Test(proto, nul_inside_a_string_in_the_middle_of_a_reply_fails)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE], *comm;
	size_t len = encode_sample(PROTO_OP_LIST_CLIENTS | PROTO_REPLY_BIT, buf, NULL);
	const char *why = NULL;

	comm = memmem(buf, len, "shmbufctl", 9);
	cr_assert_not_null(comm);
	comm[4] = '\0';
	cr_assert_eq(proto_decode(buf, len, &m, &why), -EBADMSG);
	cr_assert_str_eq(why, "NUL byte inside comm");
}

Test(proto, event_travels_as_an_unasked_reply)
{
	static const uint8_t head[] = { 0x40, 0x80, 0, 0, 0, 0, 0, 0 }; /* EVENT | reply bit, status 0, seq 0 */
	struct proto_msg m = reply(PROTO_OP_EVENT, 0);
	uint8_t buf[BUF_SIZE];

	m.u.event.type = PROTO_EV_SEGMENT_CREATED;
	strcpy(m.u.event.segment, "seg");
	cr_assert_gt(proto_encode(&m, buf, sizeof(buf)), 0);
	cr_assert_eq(memcmp(buf, head, sizeof(head)), 0);

	m.seq = 1;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL, "an event answers no request");
	m.seq = 0;
	m.u.event.type = 0;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.u.event.type = PROTO_EV_TYPE_MAX + 1;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
}

Test(proto, event_of_an_unknown_type_decodes)
{
	struct proto_msg in = reply(PROTO_OP_EVENT, 0), m;
	uint8_t buf[BUF_SIZE];
	int len;

	in.u.event.type = PROTO_EV_SEGMENT_CREATED;
	len = proto_encode(&in, buf, sizeof(buf));
	cr_assert_gt(len, 0);
	set_u16(buf + PROTO_HEADER_SIZE, 999); /* type is the first field */
	cr_assert_eq(decode(buf, (size_t)len, &m), 0);
	cr_assert_eq(m.u.event.type, 999);
}

Test(proto, encoder_rejects_overlong_reply_strings)
{
	struct proto_msg m;
	uint8_t buf[BUF_SIZE];

	m = reply(PROTO_OP_STATUS, 1);
	memset(m.u.status_reply.server_version, 'v', sizeof(m.u.status_reply.server_version));
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);

	m = reply(PROTO_OP_LIST_CLIENTS, 1);
	m.u.list_reply.count = 1;
	memset(m.u.list_reply.e.clients[0].comm, 'c', sizeof(m.u.list_reply.e.clients[0].comm));
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.u.list_reply.e.clients[0].comm[PROTO_COMM_MAX] = '\0';
	cr_assert_gt(proto_encode(&m, buf, sizeof(buf)), 0);
}

/* ---- fuzzing ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void check_fuzz_input(const uint8_t *in, size_t len, unsigned *decoded, unsigned *reencoded)
{
	struct proto_msg m;
	uint8_t out[BUF_SIZE];
	const char *why = NULL;
	int r = proto_decode(in, len, &m, &why), e;

	if (r < 0) {
		cr_assert(r == -EBADMSG || r == -EOPNOTSUPP || r == -ENAMETOOLONG, "decode returned %d", r);
		cr_assert_not_null(why);
		return;
	}
	(*decoded)++;
	/* Decoding is looser than encoding (meaning is the daemon's business), but
	 * whatever both accept must come out byte for byte as it went in. */
	e = proto_encode(&m, out, sizeof(out));
	if (e < 0) {
		cr_assert(e == -EINVAL || e == -ENAMETOOLONG, "re-encode returned %d", e);
		return;
	}
	(*reencoded)++;
	cr_assert_eq((size_t)e, len, "op 0x%x re-encoded to %d bytes, not %zu", m.op, e, len);
	cr_assert_eq(memcmp(in, out, len), 0, "op 0x%x re-encoded differently", m.op);
}

Test(proto, fuzzed_input_never_crashes_and_reencodes_identically, .timeout = 120)
{
	struct proto_msg *s = samples;
	size_t nsamples = build_samples(s), lens[MAX_SAMPLES];
	static uint8_t enc[MAX_SAMPLES][BUF_SIZE];
	uint8_t in[BUF_SIZE];
	unsigned decoded = 0, reencoded = 0;

	for (size_t i = 0; i < nsamples; i++)
		lens[i] = encode_ok(&s[i], enc[i]);
	rng_state = 0x5eed5eed12345678ull;

	for (int iter = 0; iter < 200000; iter++) {
		uint64_t kind = rng() % 4;
		size_t len;

		if (kind == 0) {
			/* Random bytes. */
			len = rng() % 64;
			for (size_t k = 0; k < len; k++)
				in[k] = (uint8_t)rng();
		} else if (kind == 1) {
			/* Random payload behind a plausible header, so the payload decoders get exercised. */
			uint16_t op = rng() % 8 ? (uint16_t)(rng() % 15) : PROTO_OP_EVENT;

			len = PROTO_HEADER_SIZE + rng() % 120;
			for (size_t k = 0; k < len; k++)
				in[k] = (uint8_t)rng();
			set_u16(in, (uint16_t)(op | (rng() % 2 ? PROTO_REPLY_BIT : 0)));
			set_u16(in + 2, rng() % 4 ? 0 : (uint16_t)(rng() % 20));
			fix_length(in, len);
			set_u32(in + 12, 0);
			if (len >= PROTO_HEADER_SIZE + 2 && rng() % 2) /* make a leading name_len plausible */
				set_u16(in + PROTO_HEADER_SIZE, (uint16_t)(len - PROTO_HEADER_SIZE - 2));
		} else {
			/* Mutations of a valid encoding. */
			size_t pick = rng() % nsamples, flips = 1 + rng() % 4;

			len = lens[pick];
			memcpy(in, enc[pick], len);
			for (size_t f = 0; f < flips; f++) {
				uint64_t what = rng() % 4;

				if (what == 0 && len > 0)
					in[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
				else if (what == 1 && len > 0)
					in[rng() % len] = (uint8_t)rng();
				else if (what == 2 && len > 0)
					len -= rng() % (len < 8 ? len : 8);
				else if (len + 4 < sizeof(in))
					for (int k = 0; k < 4; k++)
						in[len++] = (uint8_t)rng();
			}
			if (kind == 3 && len >= PROTO_HEADER_SIZE)
				fix_length(in, len);
		}
		check_fuzz_input(in, len, &decoded, &reencoded);
	}
	/* The generator must actually reach the success path, or the property tests nothing. */
	cr_log_info("%u of 200000 inputs decoded, %u re-encoded", decoded, reencoded);
	cr_assert_gt(decoded, 10000, "only %u inputs decoded", decoded);
	cr_assert_gt(reencoded, 5000, "only %u inputs re-encoded", reencoded);
}

/* ---- names, statuses, ops ---- */

Test(proto, name_validity_follows_the_charset_rules)
{
	char big[PROTO_NAME_MAX + 1];

	memset(big, 'n', sizeof(big));
	cr_assert(proto_name_is_valid("a", 1));
	cr_assert(proto_name_is_valid(" ~", 2));
	cr_assert(proto_name_is_valid("a/b", 3));
	cr_assert(proto_name_is_valid(big, PROTO_NAME_MAX));
	cr_assert_not(proto_name_is_valid(big, PROTO_NAME_MAX + 1));
	cr_assert_not(proto_name_is_valid("", 0));
	cr_assert_not(proto_name_is_valid("/a", 2));
	cr_assert_not(proto_name_is_valid("a\x1f", 2));
	cr_assert_not(proto_name_is_valid("a\x7f", 2));
	cr_assert_not(proto_name_is_valid("a\x80", 2));
	cr_assert_not(proto_name_is_valid("a\0b", 3));
}

/* Every status the table names (numbers another branch holds are gaps). */
#define STATUS_VALUE_(name, value, errnum, token, text) value,
static const uint16_t all_statuses[] = { PROTO_STATUS_MAP(STATUS_VALUE_) };
#define N_STATUSES (sizeof(all_statuses) / sizeof(all_statuses[0]))

Test(proto, every_status_maps_to_errno_and_back)
{
	cr_assert_eq(proto_status_to_errno(PROTO_OK), 0);
	cr_assert_eq(proto_errno_to_status(0), PROTO_OK);
	for (size_t i = 1; i < N_STATUSES; i++) {
		uint16_t st = all_statuses[i];
		int err = proto_status_to_errno(st);

		cr_assert_lt(err, 0, "status %u", st);
		cr_assert_eq(proto_errno_to_status(err), st, "status %u -> %d -> %d", st, err,
			     proto_errno_to_status(err));
	}
}

Test(proto, statuses_map_to_the_documented_errnos)
{
	cr_assert_eq(proto_status_to_errno(PROTO_E_PROTO), -EPROTO);
	cr_assert_eq(proto_status_to_errno(PROTO_E_VERSION), -EPROTONOSUPPORT);
	cr_assert_eq(proto_status_to_errno(PROTO_E_NOTSUP), -EOPNOTSUPP);
	cr_assert_eq(proto_status_to_errno(PROTO_E_LIMIT), -EDQUOT);
	cr_assert_eq(proto_status_to_errno(PROTO_E_BADFD), -EBADMSG);
	cr_assert_eq(proto_status_to_errno(PROTO_E_INTERNAL), -EIO);
	cr_assert_eq(proto_status_to_errno(PROTO_E_NAMETOOLONG), -ENAMETOOLONG);
	cr_assert_eq(proto_status_to_errno(PROTO_STATUS_COUNT), -EPROTO);
	cr_assert_eq(proto_status_to_errno(0xffff), -EPROTO);
	cr_assert_eq(proto_errno_to_status(-ENOMEM), PROTO_E_NOSPC);
	cr_assert_eq(proto_errno_to_status(-ENOSPC), PROTO_E_NOSPC);
	cr_assert_eq(proto_errno_to_status(-EXDEV), PROTO_E_INTERNAL);
	cr_assert_eq(proto_errno_to_status(-99999), PROTO_E_INTERNAL);
}

Test(proto, status_names_are_errno_tokens)
{
	static const char *const want[PROTO_STATUS_COUNT] = {
		"OK", "EPROTO", "EPROTONOSUPPORT", "EOPNOTSUPP", "ENOENT", "EEXIST", "EBUSY", "EACCES", "EINVAL",
		"ERANGE", "ETIMEDOUT", "ENOSPC", "EDQUOT", "EMSGSIZE", "EBADMSG", "EIO", "EPERM", "ENAMETOOLONG",
		"ECANCELED", "EAGAIN", [PROTO_E_STALE] = "ESTALE",
	};

	for (uint16_t st = 0; st < PROTO_STATUS_COUNT; st++)
		cr_assert_str_eq(proto_status_name(st), want[st] ? want[st] : "EUNKNOWN", "status %u", st);
	cr_assert_str_eq(proto_status_name(PROTO_STATUS_COUNT), "EUNKNOWN");
	cr_assert_str_eq(proto_status_name(0xffff), "EUNKNOWN");
}

Test(proto, every_status_has_text_found_by_status_and_by_errno)
{
	for (size_t i = 0; i < N_STATUSES; i++) {
		uint16_t st = all_statuses[i];
		const char *text = proto_status_text(st);

		cr_assert(text && *text, "status %u has no text", st);
		cr_assert_eq(proto_errno_text(proto_status_to_errno(st)), text, "status %u", st);
	}
	cr_assert_str_eq(proto_status_text(PROTO_OK), "success");
	cr_assert_str_eq(proto_status_text(PROTO_E_BUSY),
			 "range is leased by someone else (conflicting lease or waiters ahead)");
	cr_assert_str_eq(proto_status_text(PROTO_STATUS_COUNT), "unknown status");
	cr_assert_null(proto_errno_text(-ENOMEM), "ENOMEM has no status of its own");
	cr_assert_null(proto_errno_text(-99999));
}

Test(proto, op_names_ignore_the_reply_bit)
{
	static const char *const want[] = { "?", "HELLO", "CREATE", "DESTROY", "RESIZE", "ACQUIRE", "RELEASE",
					    "STAT", "STATUS", "LIST_SEGMENTS", "LIST_LEASES", "LIST_CLIENTS",
					    "SUBSCRIBE", "UNMAP", "CANCEL" };

	for (uint16_t op = 0; op <= PROTO_OP_CANCEL; op++) {
		cr_assert_str_eq(proto_op_name(op), want[op]);
		cr_assert_str_eq(proto_op_name(op | PROTO_REPLY_BIT), want[op]);
	}
	cr_assert_str_eq(proto_op_name(PROTO_OP_EVENT | PROTO_REPLY_BIT), "EVENT");
	cr_assert_str_eq(proto_op_name(PROTO_OP_CHMOD), "CHMOD");
	cr_assert_str_eq(proto_op_name(PROTO_OP_CHOWN | PROTO_REPLY_BIT), "CHOWN");
	cr_assert_str_eq(proto_op_name(PROTO_OP_LIST_USERS), "LIST_USERS");
	cr_assert_str_eq(proto_op_name(18), "?");
	cr_assert_str_eq(proto_op_name(63), "?");
	cr_assert_str_eq(proto_op_name(65), "?");
	cr_assert_str_eq(proto_op_name(0xffff), "?");
}

Test(proto, make_error_answers_the_request)
{
	struct proto_msg req = request(PROTO_OP_ACQUIRE, 0xdeadbeef), m;

	strcpy(req.u.acquire.name, "seg");
	proto_make_error(&m, &req, PROTO_E_RANGE, "out of range");
	cr_assert_eq(m.op, PROTO_OP_ACQUIRE | PROTO_REPLY_BIT);
	cr_assert_eq(m.seq, 0xdeadbeef);
	cr_assert_eq(m.status, PROTO_E_RANGE);
	cr_assert_str_eq(m.u.error.message, "out of range");

	proto_make_error(&m, &req, PROTO_E_PROTO, NULL);
	cr_assert_str_eq(m.u.error.message, "");
}

Test(proto, make_error_may_answer_in_place)
{
	struct proto_msg m = request(PROTO_OP_STAT, 31);

	strcpy(m.u.segment.name, "a name that must not leak into the message");
	proto_make_error(&m, &m, PROTO_E_NOENT, "no such segment");
	cr_assert_eq(m.op, PROTO_OP_STAT | PROTO_REPLY_BIT);
	cr_assert_eq(m.seq, 31);
	cr_assert_str_eq(m.u.error.message, "no such segment");
}

/* ---- default socket path ---- */

static void expect_path(const char *want)
{
	char buf[4096];

	cr_assert_eq(proto_default_socket_path(buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, want);
}

Test(proto, socket_env_overrides_everything)
{
	setenv("SHMBUF_SOCKET", "/somewhere/else.sock", 1);
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	expect_path("/somewhere/else.sock");
}

Test(proto, empty_socket_env_is_ignored)
{
	setenv("SHMBUF_SOCKET", "", 1);
	unsetenv("XDG_RUNTIME_DIR");
	if (geteuid() == 0) {
		expect_path("/run/shmbuf/shmbufd.sock");
	} else {
		char want[64];

		snprintf(want, sizeof(want), "/tmp/shmbuf-%u/shmbufd.sock", (unsigned)geteuid());
		expect_path(want);
	}
}

Test(proto, root_uses_run_even_with_a_runtime_dir)
{
	if (geteuid() != 0)
		cr_skip_test("needs root");
	unsetenv("SHMBUF_SOCKET");
	setenv("XDG_RUNTIME_DIR", "/run/user/0", 1);
	expect_path("/run/shmbuf/shmbufd.sock");
}

/* Run as an ordinary user for the non-root rules. As root, drop the effective
 * uid (the saved uid stays 0, so it can be taken back). */
static uid_t become_ordinary_user(void)
{
	if (geteuid() == 0)
		cr_assert_eq(seteuid(65534), 0);
	return geteuid();
}

static void become_root_again(void)
{
	if (getuid() == 0)
		cr_assert_eq(seteuid(0), 0);
}

Test(proto, user_uses_the_runtime_dir)
{
	unsetenv("SHMBUF_SOCKET");
	setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
	become_ordinary_user();
	expect_path("/run/user/4242/shmbuf/shmbufd.sock");
	become_root_again();
}

Test(proto, user_without_a_runtime_dir_uses_tmp)
{
	char want[64];
	uid_t uid;

	unsetenv("SHMBUF_SOCKET");
	setenv("XDG_RUNTIME_DIR", "", 1);
	uid = become_ordinary_user();
	snprintf(want, sizeof(want), "/tmp/shmbuf-%u/shmbufd.sock", (unsigned)uid);
	expect_path(want);
	unsetenv("XDG_RUNTIME_DIR");
	expect_path(want);
	become_root_again();
}

Test(proto, socket_path_too_long_for_the_buffer_fails)
{
	char buf[32];
	const char *path = "/a/path/of/exactly/31/bytes.soc";

	cr_assert_eq(strlen(path), 31);
	setenv("SHMBUF_SOCKET", path, 1);
	cr_assert_eq(proto_default_socket_path(buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, path);
	cr_assert_eq(proto_default_socket_path(buf, 31), -ENAMETOOLONG);
	cr_assert_eq(proto_default_socket_path(buf, 1), -ENAMETOOLONG);

	unsetenv("SHMBUF_SOCKET");
	cr_assert_eq(proto_default_socket_path(buf, 10), -ENAMETOOLONG);
}
