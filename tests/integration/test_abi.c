/* SPDX-License-Identifier: MIT */
/* test_abi.c: the "structs that grow" rule of shmbuf.h, as a program built
 * against an older (smaller) or a newer (larger) shmbuf.h would meet it: the
 * layouts below are declared here on purpose instead of taken from shmbuf.h. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "harness.h"

TestSuite(abi, .init = daemon_setup, .fini = daemon_teardown, .timeout = 30);

#define CANARY 0xab
#define JUNK 0xff

/* Older layouts: prefixes of today's structs, as an older shmbuf.h could have had them. */
struct old_stat {
	uint64_t size;
	unsigned mode;
};
struct old_status {
	char version[SHMBUF_VERSION_STR_MAX + 1];
};
struct old_segment {
	char name[SHMBUF_NAME_MAX + 1];
	uint64_t id;
	uint64_t size;
};
struct old_lease {
	uint64_t lease_id;
	uint64_t client_id;
	char segment[SHMBUF_NAME_MAX + 1];
};
struct old_client {
	uint64_t client_id;
	pid_t pid;
};
struct old_event {
	int type;
	uint64_t time_ns;
};

/* The older layouts really are prefixes of today's (what "fields only added at
 * the end" promises), and really are smaller. */
_Static_assert(offsetof(struct old_stat, mode) == offsetof(shmbuf_stat_info, mode), "stat prefix");
_Static_assert(sizeof(struct old_stat) < sizeof(shmbuf_stat_info), "stat smaller");
_Static_assert(sizeof(struct old_status) < sizeof(shmbuf_server_status), "status smaller");
_Static_assert(offsetof(struct old_segment, size) == offsetof(shmbuf_segment_info, size), "segment prefix");
_Static_assert(sizeof(struct old_segment) < sizeof(shmbuf_segment_info), "segment smaller");
_Static_assert(offsetof(struct old_lease, segment) == offsetof(shmbuf_lease_info, segment), "lease prefix");
_Static_assert(sizeof(struct old_lease) < sizeof(shmbuf_lease_info), "lease smaller");
_Static_assert(offsetof(struct old_client, pid) == offsetof(shmbuf_client_info, pid), "client prefix");
_Static_assert(sizeof(struct old_client) < sizeof(shmbuf_client_info), "client smaller");
_Static_assert(offsetof(struct old_event, time_ns) == offsetof(shmbuf_event, time_ns), "event prefix");
_Static_assert(sizeof(struct old_event) < sizeof(shmbuf_event), "event smaller");

/* Newer layouts: today's struct with fields a later shmbuf.h may add. */
struct new_view {
	shmbuf_view v;
	uint64_t generation;
};
struct new_stat {
	shmbuf_stat_info s;
	uint64_t future[3];
};
struct new_status {
	shmbuf_server_status s;
	uint64_t future[3];
};
struct new_segment {
	shmbuf_segment_info s;
	uint64_t future;
};
struct new_lease {
	shmbuf_lease_info l;
	uint64_t future;
};
struct new_client {
	shmbuf_client_info k;
	uint64_t future;
};
struct new_event {
	shmbuf_event e;
	uint64_t future[2];
};

static void expect_bytes(const void *p, size_t from, size_t to, unsigned char byte, const char *what)
{
	const unsigned char *b = p;

	for (size_t i = from; i < to; i++)
		cr_expect_eq(b[i], byte, "%s: byte %zu is %#x, not %#x", what, i, b[i], byte);
}

Test(abi, an_older_stat_gets_its_fields_and_no_byte_past_its_size)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("old-stat");
	unsigned char buf[sizeof(shmbuf_stat_info) + 32];
	struct old_stat *old = (struct old_stat *)buf;

	cr_assert_eq(shmbuf_create(c, name, 8192, 0640), 0);
	memset(buf, CANARY, sizeof(buf));
	cr_assert_eq(shmbuf_stat(c, name, (shmbuf_stat_info *)old, sizeof(*old)), 0);
	cr_expect_eq(old->size, 8192);
	cr_expect_eq(old->mode, 0640);
	expect_bytes(buf, sizeof(*old), sizeof(buf), CANARY, "past the old stat");
	cr_expect_eq(shmbuf_stat(c, name, (shmbuf_stat_info *)old, 0), -EINVAL);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(abi, a_newer_stat_gets_zeroes_in_fields_this_library_does_not_know)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("new-stat");
	shmbuf_stat_info now;
	struct new_stat nw;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_stat(c, name, &now, sizeof(now)), 0);
	memset(&nw, JUNK, sizeof(nw));
	cr_assert_eq(shmbuf_stat(c, name, &nw.s, sizeof(nw)), 0);
	cr_expect_eq(nw.s.size, 4096);
	cr_expect_eq(nw.s.mode, 0600);
	cr_expect_eq(nw.s.uid, now.uid);
	cr_expect_eq(nw.s.read_leases, 0);
	cr_expect(all_zero(nw.future, sizeof(nw.future)), "unknown fields read 0");
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(abi, a_view_below_its_first_layout_is_refused_untouched)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("small-view");
	unsigned char buf[sizeof(shmbuf_view)];
	shmbuf_stat_info st;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	memset(buf, CANARY, sizeof(buf));
	cr_expect_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, (shmbuf_view *)buf, SHMBUF_VIEW_SIZE_VER0 - 1),
		     -EINVAL);
	expect_bytes(buf, 0, sizeof(buf), CANARY, "refused view");
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_expect_eq(st.write_leases, 0, "a refused acquire leases nothing");
	cr_expect_eq(shmbuf_release(c, (shmbuf_view *)buf, SHMBUF_VIEW_SIZE_VER0 - 1), -EINVAL);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(abi, a_view_of_the_first_layout_is_filled_and_released_within_its_size)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("ver0-view");
	unsigned char buf[sizeof(shmbuf_view) + 16];
	shmbuf_view *v = (shmbuf_view *)buf;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	memset(buf, CANARY, sizeof(buf));
	cr_assert_eq(shmbuf_acquire(c, name, 100, 200, SHMBUF_READ, 0, v, SHMBUF_VIEW_SIZE_VER0), 0);
	cr_expect_eq(v->len, 200);
	cr_expect_eq(v->offset, 100);
	cr_expect(v->flags & SHMBUF_VIEW_READONLY);
	cr_expect_eq(((const char *)v->data)[0], 0, "the view maps the zero-filled segment");
	expect_bytes(buf, SHMBUF_VIEW_SIZE_VER0, sizeof(buf), CANARY, "past the first view layout");
	cr_assert_eq(shmbuf_release(c, v, SHMBUF_VIEW_SIZE_VER0), 0);
	cr_expect(all_zero(buf, SHMBUF_VIEW_SIZE_VER0), "release zeroes the view");
	expect_bytes(buf, SHMBUF_VIEW_SIZE_VER0, sizeof(buf), CANARY, "release past the first view layout");
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(abi, a_newer_view_gets_a_zero_generation_and_is_zeroed_whole_on_release)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("new-view");
	struct new_view nv;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	memset(&nv, JUNK, sizeof(nv));
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &nv.v, sizeof(nv)), 0);
	cr_expect_eq(nv.v.len, 4096);
	cr_expect_eq(nv.v.flags, 0, "a write view has no flag set");
	cr_expect_eq(nv.generation, 0, "a field this library does not know reads 0");
	memset(nv.v.data, 7, nv.v.len);
	cr_assert_eq(shmbuf_release(c, &nv.v, sizeof(nv)), 0);
	cr_expect(all_zero(&nv, sizeof(nv)), "release zeroes the caller's whole struct");
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(abi, server_status_in_older_and_newer_layouts)
{
	shmbuf_client *c = client_new();
	shmbuf_server_status now;
	unsigned char buf[sizeof(shmbuf_server_status)];
	struct old_status *old = (struct old_status *)buf;
	struct new_status nw;

	cr_assert_eq(shmbuf_server_status_get(c, &now, sizeof(now)), 0);
	memset(buf, CANARY, sizeof(buf));
	cr_assert_eq(shmbuf_server_status_get(c, (shmbuf_server_status *)old, sizeof(*old)), 0);
	cr_expect_str_eq(old->version, now.version);
	expect_bytes(buf, sizeof(*old), sizeof(buf), CANARY, "past the old status");
	memset(&nw, JUNK, sizeof(nw));
	cr_assert_eq(shmbuf_server_status_get(c, &nw.s, sizeof(nw)), 0);
	cr_expect_str_eq(nw.s.socket_path, now.socket_path);
	cr_expect_eq(nw.s.pid, now.pid);
	cr_expect(all_zero(nw.future, sizeof(nw.future)));
	cr_expect_eq(shmbuf_server_status_get(c, &now, 0), -EINVAL);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(abi, listings_use_the_callers_size_as_the_stride)
{
	enum { SEGMENTS = 20 }; /* more than one page of 16 */
	shmbuf_client *c = client_new();
	struct old_segment *old;
	struct new_segment *nw;
	char names[SEGMENTS][64];
	size_t n;

	for (int i = 0; i < SEGMENTS; i++) {
		snprintf(names[i], sizeof(names[i]), "stride.%d.%02d", (int)getpid(), i);
		cr_assert_eq(shmbuf_create(c, names[i], 4096 + (uint64_t)i, 0600), 0);
	}
	cr_assert_eq(shmbuf_list_segments(c, (shmbuf_segment_info **)&old, &n, sizeof(*old)), 0);
	cr_assert_eq(n, SEGMENTS);
	for (size_t i = 0; i < n; i++) {
		cr_expect_str_eq(old[i].name, names[i]);
		cr_expect_eq(old[i].size, 4096 + i);
	}
	shmbuf_free(old);
	cr_assert_eq(shmbuf_list_segments(c, (shmbuf_segment_info **)&nw, &n, sizeof(*nw)), 0);
	cr_assert_eq(n, SEGMENTS);
	for (size_t i = 0; i < n; i++) {
		cr_expect_str_eq(nw[i].s.name, names[i]);
		cr_expect_eq(nw[i].s.size, 4096 + i);
		cr_expect_eq(nw[i].s.mode, 0600);
		cr_expect_eq(nw[i].future, 0);
	}
	shmbuf_free(nw);
	cr_expect_eq(shmbuf_list_segments(c, (shmbuf_segment_info **)&nw, &n, 0), -EINVAL);
	for (int i = 0; i < SEGMENTS; i++)
		cr_assert_eq(shmbuf_destroy(c, names[i]), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(abi, lease_and_client_listings_in_older_and_newer_layouts)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("leases");
	struct old_lease *ol;
	struct new_lease *nl;
	struct old_client *oc;
	struct new_client *nc;
	shmbuf_view v;
	size_t n;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_list_leases(c, name, (shmbuf_lease_info **)&ol, &n, sizeof(*ol)), 0);
	cr_assert_eq(n, 1);
	cr_expect_eq(ol[0].lease_id, v.lease_id);
	cr_expect_str_eq(ol[0].segment, name);
	shmbuf_free(ol);
	cr_assert_eq(shmbuf_list_leases(c, name, (shmbuf_lease_info **)&nl, &n, sizeof(*nl)), 0);
	cr_assert_eq(n, 1);
	cr_expect_eq(nl[0].l.lease_id, v.lease_id);
	cr_expect_eq(nl[0].l.flags, SHMBUF_LEASE_WRITE);
	cr_expect_eq(nl[0].future, 0);
	shmbuf_free(nl);

	cr_assert_eq(shmbuf_list_clients(c, (shmbuf_client_info **)&oc, &n, sizeof(*oc)), 0);
	cr_assert_eq(n, 1);
	cr_expect_eq(oc[0].pid, getpid());
	shmbuf_free(oc);
	cr_assert_eq(shmbuf_list_clients(c, (shmbuf_client_info **)&nc, &n, sizeof(*nc)), 0);
	cr_assert_eq(n, 1);
	cr_expect_eq(nc[0].k.pid, getpid());
	cr_expect_eq(nc[0].k.flags, SHMBUF_CLIENT_SELF);
	cr_expect_eq(nc[0].k.leases, 1);
	cr_expect_eq(nc[0].future, 0);
	shmbuf_free(nc);

	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(abi, events_in_older_and_newer_layouts)
{
	shmbuf_client *c = client_new(), *w = client_new();
	const char *name = seg_name("events");
	unsigned char buf[sizeof(shmbuf_event)];
	struct old_event *old = (struct old_event *)buf;
	struct new_event nw;

	cr_assert_eq(shmbuf_subscribe(w), 0);
	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	memset(buf, CANARY, sizeof(buf));
	cr_assert_eq(shmbuf_next_event(w, (shmbuf_event *)old, sizeof(*old), 10000), 0);
	cr_expect_eq(old->type, SHMBUF_EVENT_SEGMENT_CREATED);
	cr_expect_neq(old->time_ns, 0);
	expect_bytes(buf, sizeof(*old), sizeof(buf), CANARY, "past the old event");
	memset(&nw, JUNK, sizeof(nw));
	cr_assert_eq(shmbuf_next_event(w, &nw.e, sizeof(nw), 10000), 0);
	cr_expect_eq(nw.e.type, SHMBUF_EVENT_SEGMENT_DESTROYED);
	cr_expect_str_eq(nw.e.segment, name);
	cr_expect_eq(nw.e.flags, 0);
	cr_expect(all_zero(nw.future, sizeof(nw.future)));
	cr_expect_eq(shmbuf_next_event(w, &nw.e, 0, 0), -EINVAL);
	shmbuf_disconnect(w);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}
