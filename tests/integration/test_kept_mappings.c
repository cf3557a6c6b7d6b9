/* SPDX-License-Identifier: MIT */
/* test_kept_mappings.c: libshmbuf keeps one fd and mapping per segment and mode across leases
 * (issue 8): bytes still cross processes, read views stay read-only, a view is a pointer into
 * the kept mapping, re-created names and grown segments get fresh mappings, the cache is bounded,
 * and releases do not wait but are still checked. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

TestSuite(kept_mappings, .init = daemon_setup, .fini = daemon_teardown, .timeout = 60);

#define KiB 1024u
#define MiB (1024u * 1024u)

/* The start of the mapping a view points into: the library maps whole objects. */
static const uint8_t *mapping_base(const shmbuf_view *v)
{
	return (const uint8_t *)v->data - v->offset;
}

static shmbuf_client *child_connect(void)
{
	shmbuf_client *c = NULL;

	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c) == 0);
	return c;
}

/* ---- bytes cross processes, round after round ---- */

#define ROUNDS 25

struct rounds {
	const char *name;
	struct chan written, read;
};

/* The reader: each round, waits for the writer's word, checks that round's bytes, releases. */
static int read_every_round(void *arg)
{
	struct rounds *j = arg;
	shmbuf_client *c = child_connect();
	shmbuf_view v;

	for (int i = 0; i < ROUNDS; i++) {
		CHILD_CHECK(chan_recv(&j->written, 10000) == 'w');
		CHILD_CHECK(shmbuf_acquire(c, j->name, 3, 0, SHMBUF_READ, 5000, &v, sizeof(v)) == 0);
		CHILD_CHECK(pattern_mismatch(v.data, v.len, 3, (uint8_t)i) == -1);
		CHILD_CHECK(shmbuf_release(c, &v, sizeof(v)) == 0);
		CHILD_CHECK(chan_send(&j->read, 'r') == 0);
	}
	CHILD_CHECK(shmbuf_release_errors(c) == 0);
	shmbuf_disconnect(c);
	return 0;
}

Test(kept_mappings, bytes_written_through_a_kept_write_mapping_reach_a_reader_in_another_process_every_round)
{
	struct rounds j = { .name = seg_name("rounds") };
	shmbuf_client *c = client_new();
	const uint8_t *base = NULL;
	shmbuf_view v;
	pid_t pid;

	chan_open(&j.written);
	chan_open(&j.read);
	cr_assert_eq(shmbuf_create(c, j.name, 256 * KiB, 0600), 0);
	pid = child_spawn(read_every_round, &j);
	for (int i = 0; i < ROUNDS; i++) {
		cr_assert_eq(shmbuf_acquire(c, j.name, 3, 0, SHMBUF_WRITE, 5000, &v, sizeof(v)), 0, "round %d", i);
		if (i == 0)
			base = mapping_base(&v);
		cr_assert_eq(mapping_base(&v), base, "round %d maps anew", i);
		pattern_fill(v.data, v.len, 3, (uint8_t)i);
		cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
		cr_assert_eq(chan_send(&j.written, 'w'), 0);
		cr_assert_eq(chan_recv(&j.read, 10000), 'r', "round %d", i);
	}
	child_expect_exit(pid, 0);
	cr_assert_eq(shmbuf_release_errors(c), 0);
	shmbuf_disconnect(c);
	chan_close(&j.written);
	chan_close(&j.read);
	expect_clean_shutdown();
}

/* ---- read-only stays kernel-enforced ---- */

static int write_through_read_view(void *arg)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	volatile uint8_t *p = arg;

	/* Die of the fault itself, even where a sanitizer handles SIGSEGV. */
	sigaction(SIGSEGV, &dfl, NULL);
	p[1] = 0x5a; /* must fault */
	return 0;
}

Test(kept_mappings, a_read_view_faults_on_write_even_after_the_client_held_a_write_view_of_the_segment)
{
	const char *name = seg_name("ro");
	shmbuf_client *c = client_new();
	char perms[5], path[512];
	shmbuf_view w, r, w2;

	cr_assert_eq(shmbuf_create(c, name, 64 * KiB, 0600), 0);
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
		pattern_fill(w.data, w.len, 0, 5);
		cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);

		cr_assert_eq(shmbuf_acquire(c, name, 4 * KiB, 4 * KiB, SHMBUF_READ, 0, &r, sizeof(r)), 0);
		cr_assert(r.flags & SHMBUF_VIEW_READONLY);
		cr_assert_eq(mapping_of(r.data, perms, path, sizeof(path)), 0);
		cr_assert_str_eq(perms, "r--s", "a read view points into a read-only mapping");
		cr_assert_eq(pattern_mismatch(r.data, r.len, 4 * KiB, 5), -1);
		child_expect_signal(child_spawn(write_through_read_view, r.data), SIGSEGV);
		cr_assert_eq(shmbuf_release(c, &r, sizeof(r)), 0);
	}
	/* And the write mapping is still writable next to it. */
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w2, sizeof(w2)), 0);
	cr_assert_eq(mapping_of(w2.data, perms, path, sizeof(path)), 0);
	cr_assert_str_eq(perms, "rw-s");
	cr_assert_eq(shmbuf_release(c, &w2, sizeof(w2)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- views are pointers into one kept mapping ---- */

Test(kept_mappings, a_released_view_is_zeroed_and_releasing_it_again_is_enoent)
{
	const char *name = seg_name("zeroed");
	shmbuf_client *c = client_new();
	shmbuf_view v, copy, zero;

	memset(&zero, 0, sizeof(zero));
	cr_assert_eq(shmbuf_create(c, name, 8 * KiB, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 10, 20, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	copy = v;
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_assert_eq(memcmp(&v, &zero, sizeof(v)), 0, "the view is zeroed");
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), -ENOENT);
	cr_assert_eq(shmbuf_release(c, &copy, sizeof(copy)), -ENOENT, "a stale copy of the view");
	cr_assert_eq(shmbuf_release_errors(c), 0, "nothing the daemon refused");
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(kept_mappings, a_second_acquire_reuses_the_mapping_and_keeps_one_fd_per_segment_and_mode)
{
	const char *a = seg_name("reuse-a"), *b = seg_name("reuse-b");
	shmbuf_client *c;
	const uint8_t *base_w = NULL, *base_r = NULL;
	int fds_before = fd_count();
	shmbuf_view w, r[3];

	c = client_new();
	cr_assert_eq(shmbuf_create(c, a, 1 * MiB, 0600), 0);
	cr_assert_eq(shmbuf_create(c, b, 1 * MiB, 0600), 0);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(shmbuf_acquire(c, a, (uint64_t)i * 4 * KiB + 7, 100, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
		if (!base_w)
			base_w = mapping_base(&w);
		cr_assert_eq(mapping_base(&w), base_w, "acquire %d mapped anew", i);
		cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
		/* Several read views at once, all in one mapping. */
		for (int k = 0; k < 3; k++) {
			cr_assert_eq(shmbuf_acquire(c, a, (uint64_t)k * 100 * KiB, 0, SHMBUF_READ, 0, &r[k], sizeof(r[k])),
				     0);
			if (!base_r)
				base_r = mapping_base(&r[k]);
			cr_assert_eq(mapping_base(&r[k]), base_r);
		}
		cr_assert_neq(base_r, base_w, "read and write views never share a mapping");
		for (int k = 0; k < 3; k++)
			cr_assert_eq(shmbuf_release(c, &r[k], sizeof(r[k])), 0);
		cr_assert_eq(shmbuf_acquire(c, b, 0, 0, SHMBUF_READ, 0, &r[0], sizeof(r[0])), 0);
		cr_assert_eq(shmbuf_release(c, &r[0], sizeof(r[0])), 0);
		/* The socket, and one fd per segment and mode used: a, a and b. */
		cr_assert_leq(fd_count(), fds_before + 4, "round %d: %d fds", i, fd_count() - fds_before);
	}
	cr_assert_eq(shmbuf_release_errors(c), 0);
	shmbuf_disconnect(c);
	cr_assert_eq(fd_count(), fds_before, "disconnect closes the kept fds");
	expect_clean_shutdown();
}

/* ---- a new segment under an old name, and growth ---- */

Test(kept_mappings, a_name_destroyed_and_created_again_gives_the_new_segments_bytes)
{
	const char *name = seg_name("again");
	shmbuf_client *c = client_new();
	shmbuf_view w, r;

	cr_assert_eq(shmbuf_create(c, name, 16 * KiB, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	pattern_fill(w.data, w.len, 0, 1);
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &r, sizeof(r)), 0);
	cr_assert_eq(pattern_mismatch(r.data, r.len, 0, 1), -1);
	cr_assert_eq(shmbuf_release(c, &r, sizeof(r)), 0);

	for (uint8_t gen = 2; gen < 5; gen++) {
		cr_assert_eq(shmbuf_destroy(c, name), 0);
		cr_assert_eq(shmbuf_create(c, name, 16 * KiB, 0600), 0);
		cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &r, sizeof(r)), 0);
		cr_assert(all_zero(r.data, r.len), "generation %d shows an old segment's bytes", gen);
		cr_assert_eq(shmbuf_release(c, &r, sizeof(r)), 0);
		cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
		cr_assert(all_zero(w.data, w.len), "generation %d writes into an old segment", gen);
		pattern_fill(w.data, w.len, 0, gen);
		cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
		cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &r, sizeof(r)), 0);
		cr_assert_eq(pattern_mismatch(r.data, r.len, 0, gen), -1);
		cr_assert_eq(shmbuf_release(c, &r, sizeof(r)), 0);
	}
	cr_assert_eq(shmbuf_release_errors(c), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(kept_mappings, a_lease_past_the_kept_mapping_after_growth_maps_anew_and_older_views_stay_valid)
{
	const char *name = seg_name("grow");
	shmbuf_client *c = client_new();
	shmbuf_view old, w, r;

	cr_assert_eq(shmbuf_create(c, name, 8 * KiB, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	pattern_fill(w.data, w.len, 0, 9);
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	/* A read view of the small mapping is held across the growth. */
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &old, sizeof(old)), 0);
	cr_assert_eq(old.len, 8 * KiB);

	cr_assert_eq(shmbuf_resize(c, name, 4 * MiB), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 3 * MiB + 1, KiB, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	pattern_fill(w.data, w.len, 3 * MiB + 1, 10);
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &r, sizeof(r)), 0);
	cr_assert_eq(r.len, 4 * MiB);
	cr_assert_eq(pattern_mismatch(r.data, 8 * KiB, 0, 9), -1, "the bytes from before the growth");
	cr_assert_eq(pattern_mismatch((uint8_t *)r.data + 3 * MiB + 1, KiB, 3 * MiB + 1, 10), -1, "the new bytes");
	cr_assert(all_zero((uint8_t *)r.data + 8 * KiB, 64 * KiB), "growth adds zeros");
	cr_assert_eq(pattern_mismatch(old.data, old.len, 0, 9), -1, "the view from before the growth still reads");
	cr_assert_eq(shmbuf_release(c, &old, sizeof(old)), 0);
	cr_assert_eq(shmbuf_release(c, &r, sizeof(r)), 0);
	cr_assert_eq(shmbuf_release_errors(c), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- a destroyed segment's memory goes ---- */

/* Whether addr still lies in a mapping of a /dev/shm object of the daemon's. */
static bool maps_shm(const void *addr)
{
	char perms[5], path[512];

	return mapping_of(addr, perms, path, sizeof(path)) == 0 && strstr(path, "/dev/shm/shmbuf.");
}

static bool shm_object_exists(const char *object)
{
	char path[256];

	snprintf(path, sizeof(path), "/dev/shm%s", object);
	return access(path, F_OK) == 0;
}

Test(kept_mappings, a_segment_destroyed_by_another_client_is_freed_at_the_holders_next_call_after_its_last_release)
{
	const char *name = seg_name("freed"), *keep = seg_name("keep");
	shmbuf_client *c = client_new(), *other = client_new();
	char object[128];
	shmbuf_server_status st;
	const uint8_t *base;
	shmbuf_view w;

	cr_assert_eq(shmbuf_create(c, keep, 4 * KiB, 0600), 0);
	cr_assert_eq(shmbuf_create(c, name, 4 * MiB, 0600), 0);
	cr_assert_eq(daemon_shm_object(name, object, sizeof(object)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	memset(w.data, 0xab, w.len); /* the pages really exist */
	base = mapping_base(&w);
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	cr_assert(maps_shm(base), "the mapping is kept after the release");

	cr_assert_eq(shmbuf_acquire(c, name, 0, KiB, SHMBUF_READ, 0, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_destroy(other, name), 0);
	cr_assert_eq(shmbuf_server_status_get(other, &st, sizeof(st)), 0);
	cr_assert_eq(st.bytes, 4 * MiB + 4 * KiB, "a leased destroyed segment still counts");
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	/* The daemon's UNMAP comes after the RELEASE; this call reads it and answers. */
	cr_assert_eq(shmbuf_server_status_get(c, &st, sizeof(st)), 0);
	cr_assert(!maps_shm(base), "the kept mapping is gone");
	cr_assert_eq(shmbuf_server_status_get(c, &st, sizeof(st)), 0);
	cr_assert_eq(st.bytes, 4 * KiB, "only the other segment counts: %llu", (unsigned long long)st.bytes);
	cr_assert_eq(st.segments, 1);
	cr_assert(!shm_object_exists(object), "%s is still in /dev/shm", object);
	cr_assert_eq(shmbuf_release_errors(c), 0);
	shmbuf_disconnect(c);
	shmbuf_disconnect(other);
	expect_clean_shutdown();
}

Test(kept_mappings, a_segment_the_client_destroys_itself_is_freed_with_its_last_release)
{
	const char *name = seg_name("self");
	shmbuf_client *c = client_new();
	char object[128];
	shmbuf_server_status st;
	const uint8_t *base;
	shmbuf_view w, r;

	cr_assert_eq(shmbuf_create(c, name, 1 * MiB, 0600), 0);
	cr_assert_eq(daemon_shm_object(name, object, sizeof(object)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &r, sizeof(r)), 0);
	base = mapping_base(&r);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	cr_assert(maps_shm(base), "a held view stays valid after destroy");
	cr_assert_eq(shmbuf_release(c, &r, sizeof(r)), 0);
	cr_assert(!maps_shm(base), "the last release lets go of the mapping at once");
	/* The very next request is handled after our RELEASE and UNMAPs. */
	cr_assert_eq(shmbuf_server_status_get(c, &st, sizeof(st)), 0);
	cr_assert_eq(st.bytes, 0);
	cr_assert_eq(st.segments, 0);
	cr_assert(!shm_object_exists(object), "%s is still in /dev/shm", object);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- the cache is bounded ---- */

#define MANY 100 /* segments: well past the library's bound of 64 */

Test(kept_mappings, past_64_segments_the_cache_evicts_and_fds_stay_bounded)
{
	shmbuf_client *c, *other;
	shmbuf_server_status st;
	int fds_before = fd_count();
	char names[MANY][32];
	shmbuf_view v;

	c = client_new();
	for (int i = 0; i < MANY; i++) {
		snprintf(names[i], sizeof(names[i]), "%s.%d", seg_name("many"), i);
		cr_assert_eq(shmbuf_create(c, names[i], 4 * KiB, 0600), 0);
	}
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < MANY; i++) {
			cr_assert_eq(shmbuf_acquire(c, names[i], 0, 0, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
			if (round == 1)
				cr_assert_eq(pattern_mismatch(v.data, v.len, 0, (uint8_t)i), -1, "segment %d", i);
			pattern_fill(v.data, v.len, 0, (uint8_t)i);
			cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
			cr_assert_leq(fd_count(), fds_before + 1 + 64, "segment %d: %d fds", i, fd_count() - fds_before);
		}
	}
	for (int i = MANY - 1; i >= 0; i--) {
		cr_assert_eq(shmbuf_acquire(c, names[i], 0, 0, SHMBUF_READ, 0, &v, sizeof(v)), 0);
		cr_assert_eq(pattern_mismatch(v.data, v.len, 0, (uint8_t)i), -1, "segment %d", i);
		cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
		cr_assert_leq(fd_count(), fds_before + 1 + 64);
	}
	/* Another client destroys them all: the daemon asks us to let go of those we
	 * keep, we answer at our next call, and nothing stays counted. */
	other = client_new();
	for (int i = 0; i < MANY; i++)
		cr_assert_eq(shmbuf_destroy(other, names[i]), 0);
	cr_assert_eq(shmbuf_server_status_get(c, &st, sizeof(st)), 0);
	cr_assert_eq(shmbuf_server_status_get(c, &st, sizeof(st)), 0);
	cr_assert_eq(st.segments, 0, "%u destroyed segments still counted", st.segments);
	cr_assert_eq(st.bytes, 0);
	cr_assert_leq(fd_count(), fds_before + 2, "the kept fds are closed");
	cr_assert_eq(shmbuf_release_errors(c), 0);
	shmbuf_disconnect(c);
	shmbuf_disconnect(other);
	cr_assert_eq(fd_count(), fds_before);
	expect_clean_shutdown();
}

/* ---- fork ---- */

struct inherited {
	shmbuf_client *c;
	const char *name;
};

/* A child that inherited the client may only disconnect it: that unmaps the child's copies. */
static int disconnect_inherited(void *arg)
{
	struct inherited *in = arg;
	shmbuf_view v;

	CHILD_CHECK(shmbuf_acquire(in->c, in->name, 0, 0, SHMBUF_READ, 0, &v, sizeof(v)) == -ECONNRESET);
	shmbuf_disconnect(in->c);
	return 0;
}

Test(kept_mappings, a_child_disconnecting_an_inherited_client_leaves_the_parents_kept_mappings_alone)
{
	struct inherited in = { .c = client_new(), .name = seg_name("fork") };
	const uint8_t *base;
	shmbuf_view w, r;

	cr_assert_eq(shmbuf_create(in.c, in.name, 64 * KiB, 0600), 0);
	cr_assert_eq(shmbuf_acquire(in.c, in.name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	base = mapping_base(&w);
	cr_assert_eq(shmbuf_release(in.c, &w, sizeof(w)), 0);
	child_expect_exit(child_spawn(disconnect_inherited, &in), 0);
	cr_assert_eq(shmbuf_acquire(in.c, in.name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	cr_assert_eq(mapping_base(&w), base, "the kept mapping is still the parent's");
	pattern_fill(w.data, w.len, 0, 4);
	cr_assert_eq(shmbuf_release(in.c, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_acquire(in.c, in.name, 0, 0, SHMBUF_READ, 0, &r, sizeof(r)), 0);
	cr_assert_eq(pattern_mismatch(r.data, r.len, 0, 4), -1);
	cr_assert_eq(shmbuf_release(in.c, &r, sizeof(r)), 0);
	shmbuf_disconnect(in.c);
	expect_clean_shutdown();
}

/* ---- threads share one client and its cache ---- */

#define THREADS 4
#define THREAD_ROUNDS 300

struct worker {
	shmbuf_client *c;
	const char *names[3];
	int failures;
};

static void *acquire_release_loop(void *arg)
{
	struct worker *w = arg;
	shmbuf_view v;

	for (int i = 0; i < THREAD_ROUNDS; i++) {
		const char *name = w->names[i % 3];
		unsigned flags = i % 5 == 0 ? SHMBUF_WRITE : SHMBUF_READ;

		if (shmbuf_acquire(w->c, name, (uint64_t)(i % 7) * 64, 64, flags, -1, &v, sizeof(v)) != 0) {
			w->failures++;
			continue;
		}
		if (flags == SHMBUF_WRITE)
			memset(v.data, i, v.len);
		else
			(void)*(volatile uint8_t *)v.data;
		if (shmbuf_release(w->c, &v, sizeof(v)) != 0)
			w->failures++;
	}
	return NULL;
}

Test(kept_mappings, threads_acquire_and_release_through_one_client_at_once)
{
	shmbuf_client *c = client_new();
	struct worker w[THREADS];
	pthread_t t[THREADS];
	const char *names[3] = { seg_name("t0"), seg_name("t1"), seg_name("t2") };
	shmbuf_stat_info st;

	for (int i = 0; i < 3; i++)
		cr_assert_eq(shmbuf_create(c, names[i], 64 * KiB, 0600), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .c = c, .names = { names[i % 3], names[(i + 1) % 3], names[(i + 2) % 3] } };
		cr_assert_eq(pthread_create(&t[i], NULL, acquire_release_loop, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(w[i].failures, 0, "thread %d", i);
	}
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(shmbuf_stat(c, names[i], &st, sizeof(st)), 0);
		cr_assert_eq(st.read_leases + st.write_leases, 0, "every release reached the daemon");
	}
	cr_assert_eq(shmbuf_release_errors(c), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(kept_mappings, a_mapping_outgrown_goes_with_its_last_view)
{
	const char *name = seg_name("outgrown");
	shmbuf_client *c = client_new();
	const uint8_t *small, *held;
	shmbuf_view v, old;

	cr_assert_eq(shmbuf_create(c, name, 8 * KiB, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &v, sizeof(v)), 0);
	small = mapping_base(&v);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_resize(c, name, 1 * MiB), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &old, sizeof(old)), 0);
	held = mapping_base(&old);
	cr_assert_neq(held, small);
	cr_assert(!maps_shm(small), "a mapping nobody uses goes when it is outgrown");

	cr_assert_eq(shmbuf_resize(c, name, 2 * MiB), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &v, sizeof(v)), 0);
	cr_assert(maps_shm(held), "a mapping with a view stays");
	cr_assert_eq(shmbuf_release(c, &old, sizeof(old)), 0);
	cr_assert(!maps_shm(held), "and goes with its last view");
	cr_assert(maps_shm(v.data));
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}
