/* SPDX-License-Identifier: MIT */
/* test_lease_ipc.c: leases between processes against a real shmbufd: shared memory really is
 * shared, read views are read-only, conflicts, waiting in arrival order, and dead holders. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

TestSuite(lease_ipc, .init = daemon_setup, .fini = daemon_teardown, .timeout = 30);

#define MiB (1024u * 1024u)

static long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* What a child needs: the segment and the pipes to talk over. */
struct job {
	const char *name;
	struct chan to_parent, to_child;
	uint8_t seed;
};

static shmbuf_client *child_connect(void)
{
	shmbuf_client *c = NULL;

	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c) == 0);
	return c;
}

/* ---- shared memory is shared ---- */

static int create_write_release(void *arg)
{
	struct job *j = arg;
	shmbuf_client *c = child_connect();
	shmbuf_view v;

	CHILD_CHECK(shmbuf_create(c, j->name, MiB, 0600) == 0);
	CHILD_CHECK(shmbuf_acquire(c, j->name, 0, 0, SHMBUF_WRITE, 0, &v, sizeof(v)) == 0);
	CHILD_CHECK(v.len == MiB && !(v.flags & SHMBUF_VIEW_READONLY));
	pattern_fill(v.data, v.len, 0, j->seed);
	CHILD_CHECK(shmbuf_release(c, &v, sizeof(v)) == 0);
	shmbuf_disconnect(c);
	return 0;
}

Test(lease_ipc, bytes_written_by_a_child_are_read_by_the_parent)
{
	struct job j = { .name = seg_name("visible"), .seed = 7 };
	shmbuf_client *c;
	shmbuf_view v;

	child_expect_exit(child_spawn(create_write_release, &j), 0);

	c = client_new();
	/* Waiting covers the daemon reading the child's RELEASE, which is not waited for. */
	cr_assert_eq(shmbuf_acquire(c, j.name, 0, 0, SHMBUF_READ, 5000, &v, sizeof(v)), 0);
	cr_assert_eq(v.len, MiB);
	cr_assert(v.flags & SHMBUF_VIEW_READONLY);
	cr_assert_eq(pattern_mismatch(v.data, v.len, 0, j.seed), -1, "the child's bytes differ at %ld",
		     pattern_mismatch(v.data, v.len, 0, j.seed));
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

static int write_upper_half_while_parent_writes_lower(void *arg)
{
	struct job *j = arg;
	shmbuf_client *c = child_connect();
	shmbuf_view v;

	/* Same page as the parent's range, disjoint bytes: no conflict, no waiting. */
	CHILD_CHECK(shmbuf_acquire(c, j->name, 100, 100, SHMBUF_WRITE, 0, &v, sizeof(v)) == 0);
	pattern_fill(v.data, v.len, 100, j->seed);
	CHILD_CHECK(chan_send(&j->to_parent, 'W') == 0);
	CHILD_CHECK(chan_recv(&j->to_child, 10000) == 'R');
	CHILD_CHECK(shmbuf_release(c, &v, sizeof(v)) == 0);
	shmbuf_disconnect(c);
	return 0;
}

Test(lease_ipc, two_processes_write_disjoint_ranges_of_one_page_at_the_same_time)
{
	struct job j = { .name = seg_name("halves"), .seed = 2 };
	shmbuf_client *c = client_new();
	shmbuf_stat_info st;
	shmbuf_view mine, all;
	pid_t pid;

	chan_open(&j.to_parent);
	chan_open(&j.to_child);
	cr_assert_eq(shmbuf_create(c, j.name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, j.name, 0, 100, SHMBUF_WRITE, 0, &mine, sizeof(mine)), 0);
	pid = child_spawn(write_upper_half_while_parent_writes_lower, &j);
	cr_assert_eq(chan_recv(&j.to_parent, 10000), 'W');

	pattern_fill(mine.data, mine.len, 0, 1);
	cr_assert_eq(shmbuf_stat(c, j.name, &st, sizeof(st)), 0);
	cr_assert_eq(st.write_leases, 2, "both writers hold their ranges at once");
	cr_assert_eq(chan_send(&j.to_child, 'R'), 0);
	child_expect_exit(pid, 0);
	cr_assert_eq(shmbuf_release(c, &mine, sizeof(mine)), 0);

	cr_assert_eq(shmbuf_acquire(c, j.name, 0, 0, SHMBUF_READ, 0, &all, sizeof(all)), 0);
	cr_assert_eq(pattern_mismatch(all.data, 100, 0, 1), -1, "the parent's bytes");
	cr_assert_eq(pattern_mismatch((uint8_t *)all.data + 100, 100, 100, j.seed), -1, "the child's bytes");
	cr_assert(all_zero((uint8_t *)all.data + 200, 4096 - 200), "nobody wrote past byte 200");
	cr_assert_eq(shmbuf_release(c, &all, sizeof(all)), 0);
	shmbuf_disconnect(c);
	chan_close(&j.to_parent);
	chan_close(&j.to_child);
	expect_clean_shutdown();
}

Test(lease_ipc, a_view_is_a_shared_mapping_of_the_daemons_shm_object_not_a_copy)
{
	const char *name = seg_name("mapped");
	shmbuf_client *c = client_new();
	char perms[5], path[512], object[128], want[160];
	shmbuf_view w, r;

	cr_assert_eq(shmbuf_create(c, name, 64 * MiB, 0600), 0);
	cr_assert_eq(daemon_shm_object(name, object, sizeof(object)), 0, "the daemon logs the object's name");
	snprintf(want, sizeof(want), "/dev/shm%s", object);

	cr_assert_eq(shmbuf_acquire(c, name, 0, MiB, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	cr_assert_eq(mapping_of(w.data, perms, path, sizeof(path)), 0);
	cr_assert_str_eq(path, want, "the write view maps the segment's shm object");
	cr_assert_str_eq(perms, "rw-s", "the write view is a writable MAP_SHARED mapping");

	cr_assert_eq(shmbuf_acquire(c, name, 63 * MiB + 5, 0, SHMBUF_READ, 0, &r, sizeof(r)), 0);
	cr_assert_eq(r.len, MiB - 5);
	cr_assert_eq(mapping_of(r.data, perms, path, sizeof(path)), 0);
	cr_assert_str_eq(path, want, "the read view maps the segment's shm object");
	cr_assert_str_eq(perms, "r--s", "the read view is a read-only MAP_SHARED mapping");
	cr_assert_eq(mapping_of((uint8_t *)r.data + r.len - 1, perms, path, sizeof(path)), 0);
	cr_assert_str_eq(path, want, "the last byte of the view is mapped too");

	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_release(c, &r, sizeof(r)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- read views are read-only ---- */

static int write_through_read_view(void *arg)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	volatile uint8_t *p = arg;

	/* Die of the fault itself, even where a sanitizer handles SIGSEGV. */
	sigaction(SIGSEGV, &dfl, NULL);
	p[10] = 0x5a; /* must fault */
	return 0;
}

Test(lease_ipc, writing_through_a_read_view_kills_the_writer_with_sigsegv)
{
	const char *name = seg_name("readonly");
	shmbuf_client *c = client_new();
	shmbuf_view w, r;

	cr_assert_eq(shmbuf_create(c, name, 8192, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	pattern_fill(w.data, w.len, 0, 3);
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);

	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &r, sizeof(r)), 0);
	child_expect_signal(child_spawn(write_through_read_view, r.data), SIGSEGV);
	cr_assert_eq(pattern_mismatch(r.data, r.len, 0, 3), -1, "the data is unchanged");
	cr_assert_eq(shmbuf_release(c, &r, sizeof(r)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(lease_ipc, a_read_view_cannot_be_made_writable_with_mprotect)
{
	const char *name = seg_name("mprotect");
	shmbuf_client *c = client_new();
	uintptr_t page;
	shmbuf_view r;

	cr_assert_eq(shmbuf_create(c, name, 3 * 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 4096 + 17, 100, SHMBUF_READ, 0, &r, sizeof(r)), 0);
	page = (uintptr_t)r.data & ~(uintptr_t)(page_size() - 1);
	/* The fd behind a read view was opened O_RDONLY: the kernel refuses PROT_WRITE
	 * on a MAP_SHARED mapping of it, whatever the process's privileges. */
	errno = 0;
	cr_assert_eq(mprotect((void *)page, (size_t)page_size(), PROT_READ | PROT_WRITE), -1);
	cr_assert_eq(errno, EACCES, "mprotect: %s", strerror(errno));
	cr_assert_eq(shmbuf_release(c, &r, sizeof(r)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- conflicts ---- */

Test(lease_ipc, a_writer_excludes_overlapping_readers_and_writers_that_do_not_wait)
{
	const char *name = seg_name("excl");
	shmbuf_client *a = client_new(), *b = client_new();
	shmbuf_stat_info st;
	shmbuf_view w, v;

	cr_assert_eq(shmbuf_create(a, name, 8192, 0600), 0);
	cr_assert_eq(shmbuf_acquire(a, name, 0, 100, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_acquire(b, name, 50, 100, SHMBUF_READ, 0, &v, sizeof(v)), -EBUSY);
	cr_assert_eq(shmbuf_acquire(b, name, 99, 1, SHMBUF_WRITE, 0, &v, sizeof(v)), -EBUSY);
	cr_assert_eq(shmbuf_acquire(b, name, 0, 0, SHMBUF_READ, 0, &v, sizeof(v)), -EBUSY);
	cr_assert_str_neq(shmbuf_last_error_detail(), "", "the daemon says why");
	cr_assert_eq(shmbuf_stat(b, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.write_leases, 1);
	cr_assert_eq(st.read_leases, 0);
	cr_assert_eq(st.waiters, 0, "a refused acquire leaves nothing queued");
	cr_assert_eq(shmbuf_release(a, &w, sizeof(w)), 0);

	/* And the other way round: a reader keeps writers out. */
	cr_assert_eq(shmbuf_acquire(b, name, 4000, 200, SHMBUF_READ, 0, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_acquire(a, name, 4100, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), -EBUSY);
	cr_assert_eq(shmbuf_release(b, &v, sizeof(v)), 0);
	shmbuf_disconnect(a);
	shmbuf_disconnect(b);
	expect_clean_shutdown();
}

Test(lease_ipc, readers_share_a_range)
{
	const char *name = seg_name("share");
	shmbuf_client *a = client_new(), *b = client_new();
	shmbuf_view v1, v2, v3;
	shmbuf_stat_info st;

	cr_assert_eq(shmbuf_create(a, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(a, name, 0, 0, SHMBUF_READ, 0, &v1, sizeof(v1)), 0);
	cr_assert_eq(shmbuf_acquire(b, name, 100, 100, SHMBUF_READ, 0, &v2, sizeof(v2)), 0);
	cr_assert_eq(shmbuf_acquire(a, name, 0, 0, SHMBUF_READ, 0, &v3, sizeof(v3)), 0, "one client may read twice");
	cr_assert_neq(v1.lease_id, v3.lease_id);
	cr_assert_eq(shmbuf_stat(b, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.read_leases, 3);
	cr_assert_eq(shmbuf_release(a, &v1, sizeof(v1)), 0);
	cr_assert_eq(shmbuf_release(b, &v2, sizeof(v2)), 0);
	cr_assert_eq(shmbuf_release(a, &v3, sizeof(v3)), 0);
	shmbuf_disconnect(a);
	shmbuf_disconnect(b);
	expect_clean_shutdown();
}

Test(lease_ipc, adjacent_ranges_do_not_conflict)
{
	const char *name = seg_name("adjacent");
	shmbuf_client *a = client_new(), *b = client_new();
	shmbuf_view w1, w2, r1, r2;
	shmbuf_stat_info st;

	cr_assert_eq(shmbuf_create(a, name, 8192, 0600), 0);
	cr_assert_eq(shmbuf_acquire(a, name, 0, 100, SHMBUF_WRITE, 0, &w1, sizeof(w1)), 0);
	cr_assert_eq(shmbuf_acquire(b, name, 100, 100, SHMBUF_WRITE, 0, &w2, sizeof(w2)), 0, "[100,200) touches [0,100)");
	cr_assert_eq(shmbuf_acquire(b, name, 200, 3896, SHMBUF_READ, 0, &r1, sizeof(r1)), 0,
		     "[200,4096) touches [100,200)");
	cr_assert_eq(shmbuf_acquire(a, name, 4096, 0, SHMBUF_READ, 0, &r2, sizeof(r2)), 0);
	cr_assert_eq(shmbuf_stat(a, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.write_leases, 2);
	cr_assert_eq(st.read_leases, 2);
	cr_assert_eq(shmbuf_release(a, &w1, sizeof(w1)), 0);
	cr_assert_eq(shmbuf_release(b, &w2, sizeof(w2)), 0);
	cr_assert_eq(shmbuf_release(b, &r1, sizeof(r1)), 0);
	cr_assert_eq(shmbuf_release(a, &r2, sizeof(r2)), 0);
	shmbuf_disconnect(a);
	shmbuf_disconnect(b);
	expect_clean_shutdown();
}

Test(lease_ipc, a_bounded_wait_ends_with_etimedout)
{
	const char *name = seg_name("timeout");
	shmbuf_client *a = client_new(), *b = client_new();
	shmbuf_stat_info st;
	shmbuf_view w, v;
	int64_t t0, waited;

	cr_assert_eq(shmbuf_create(a, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(a, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	t0 = now_ms();
	cr_assert_eq(shmbuf_acquire(b, name, 10, 10, SHMBUF_READ, 200, &v, sizeof(v)), -ETIMEDOUT);
	waited = now_ms() - t0;
	cr_assert_geq(waited, 190, "gave up after %lld ms, before its 200 ms", (long long)waited);
	cr_assert_lt(waited, 10000, "gave up only after %lld ms (hung)", (long long)waited);
	cr_assert_eq(shmbuf_stat(b, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.waiters, 0, "the timed-out waiter left the queue");
	cr_assert_eq(shmbuf_release(a, &w, sizeof(w)), 0);
	/* A release is not waited for: a's next call is handled after it. */
	cr_assert_eq(shmbuf_stat(a, name, &st, sizeof(st)), 0);
	cr_assert_eq(shmbuf_acquire(b, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0,
		     "and the range is free afterwards");
	cr_assert_eq(shmbuf_release(b, &w, sizeof(w)), 0);
	shmbuf_disconnect(a);
	shmbuf_disconnect(b);
	expect_clean_shutdown();
}

static int hold_until_someone_waits(void *arg)
{
	struct job *j = arg;
	shmbuf_client *c = child_connect();
	shmbuf_view w;

	CHILD_CHECK(shmbuf_acquire(c, j->name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)) == 0);
	pattern_fill(w.data, w.len, 0, j->seed);
	CHILD_CHECK(chan_send(&j->to_parent, 'H') == 0);
	/* The parent is blocked inside acquire: the daemon's waiter count is the only sign. */
	CHILD_CHECK(wait_for_waiters(c, j->name, 1, 10000) == 0);
	CHILD_CHECK(shmbuf_release(c, &w, sizeof(w)) == 0);
	shmbuf_disconnect(c);
	return 0;
}

Test(lease_ipc, an_unbounded_wait_is_granted_when_the_holder_in_another_process_releases)
{
	struct job j = { .name = seg_name("wait"), .seed = 9 };
	shmbuf_client *c = client_new();
	shmbuf_view v;
	pid_t pid;

	chan_open(&j.to_parent);
	cr_assert_eq(shmbuf_create(c, j.name, 64 * 1024, 0600), 0);
	pid = child_spawn(hold_until_someone_waits, &j);
	cr_assert_eq(chan_recv(&j.to_parent, 10000), 'H');
	cr_assert_eq(shmbuf_acquire(c, j.name, 0, 0, SHMBUF_READ, -1, &v, sizeof(v)), 0);
	cr_assert_eq(pattern_mismatch(v.data, v.len, 0, j.seed), -1, "the holder's writes are visible");
	child_expect_exit(pid, 0);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	shmbuf_disconnect(c);
	chan_close(&j.to_parent);
	expect_clean_shutdown();
}

/* Waits for a write lease; reports 'A' when granted, releases on 'r'. */
static int wait_for_write_then_hold(void *arg)
{
	struct job *j = arg;
	shmbuf_client *c = child_connect();
	shmbuf_view w;

	CHILD_CHECK(shmbuf_acquire(c, j->name, 0, 4096, SHMBUF_WRITE, -1, &w, sizeof(w)) == 0);
	CHILD_CHECK(chan_send(&j->to_parent, 'A') == 0);
	CHILD_CHECK(chan_recv(&j->to_child, 10000) == 'r');
	CHILD_CHECK(shmbuf_release(c, &w, sizeof(w)) == 0);
	shmbuf_disconnect(c);
	return 0;
}

static int read_without_waiting_expect_busy(void *arg)
{
	struct job *j = arg;
	shmbuf_client *c = child_connect();
	shmbuf_view v;
	int r = shmbuf_acquire(c, j->name, 0, 100, SHMBUF_READ, 0, &v, sizeof(v));

	shmbuf_disconnect(c);
	return r == -EBUSY ? 0 : r == 0 ? 1 : 2;
}

Test(lease_ipc, a_later_reader_does_not_overtake_a_waiting_writer)
{
	struct job j = { .name = seg_name("fifo") };
	shmbuf_client *c = client_new();
	shmbuf_view r;
	pid_t writer;

	chan_open(&j.to_parent);
	chan_open(&j.to_child);
	cr_assert_eq(shmbuf_create(c, j.name, 8192, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, j.name, 0, 4096, SHMBUF_READ, 0, &r, sizeof(r)), 0);
	writer = child_spawn(wait_for_write_then_hold, &j);
	cr_assert_eq(wait_for_waiters(c, j.name, 1, 10000), 0, "the writer queues behind our read lease");

	/* Compatible with the read lease held, but a writer waits ahead of it. */
	child_expect_exit(child_spawn(read_without_waiting_expect_busy, &j), 0);

	cr_assert_eq(shmbuf_release(c, &r, sizeof(r)), 0);
	cr_assert_eq(chan_recv(&j.to_parent, 10000), 'A', "the writer is granted once the reader left");
	cr_assert_eq(chan_send(&j.to_child, 'r'), 0);
	child_expect_exit(writer, 0);
	shmbuf_disconnect(c);
	chan_close(&j.to_parent);
	chan_close(&j.to_child);
	expect_clean_shutdown();
}

/* Waits for a read lease; reports 'B' when granted, releases on 'r'. */
static int wait_for_read_then_hold(void *arg)
{
	struct job *j = arg;
	shmbuf_client *c = child_connect();
	shmbuf_view v;

	CHILD_CHECK(shmbuf_acquire(c, j->name, 0, 100, SHMBUF_READ, -1, &v, sizeof(v)) == 0);
	CHILD_CHECK(chan_send(&j->to_parent, 'B') == 0);
	CHILD_CHECK(chan_recv(&j->to_child, 10000) == 'r');
	CHILD_CHECK(shmbuf_release(c, &v, sizeof(v)) == 0);
	shmbuf_disconnect(c);
	return 0;
}

Test(lease_ipc, waiters_are_granted_in_arrival_order)
{
	struct job ja = { .name = seg_name("order") }, jb = { .name = ja.name };
	shmbuf_client *c = client_new();
	shmbuf_stat_info st;
	pid_t a, b;
	shmbuf_view w;

	chan_open(&ja.to_parent);
	chan_open(&ja.to_child);
	chan_open(&jb.to_child);
	jb.to_parent = ja.to_parent; /* one pipe: the order of its bytes is the order of grants */
	cr_assert_eq(shmbuf_create(c, ja.name, 8192, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, ja.name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	a = child_spawn(wait_for_write_then_hold, &ja);
	cr_assert_eq(wait_for_waiters(c, ja.name, 1, 10000), 0);
	b = child_spawn(wait_for_read_then_hold, &jb);
	cr_assert_eq(wait_for_waiters(c, ja.name, 2, 10000), 0);

	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	cr_assert_eq(chan_recv(&ja.to_parent, 10000), 'A', "the first waiter is served first");
	cr_assert_eq(shmbuf_stat(c, ja.name, &st, sizeof(st)), 0);
	cr_assert_eq(st.waiters, 1, "the reader still waits: the writer it queued behind overlaps it");
	cr_assert_eq(st.write_leases, 1);
	cr_assert_eq(chan_send(&ja.to_child, 'r'), 0);
	cr_assert_eq(chan_recv(&ja.to_parent, 10000), 'B', "then the second");
	cr_assert_eq(chan_send(&jb.to_child, 'r'), 0);
	child_expect_exit(a, 0);
	child_expect_exit(b, 0);
	shmbuf_disconnect(c);
	chan_close(&ja.to_parent);
	chan_close(&ja.to_child);
	chan_close(&jb.to_child);
	expect_clean_shutdown();
}

/* ---- threads sharing one client ---- */

struct waiting_thread {
	shmbuf_client *c;
	const char *name;
	int result;
	shmbuf_view view;
};

static void *acquire_and_wait(void *arg)
{
	struct waiting_thread *t = arg;

	int r = shmbuf_acquire(t->c, t->name, 0, 0, SHMBUF_WRITE, -1, &t->view, sizeof(t->view));

	__atomic_store_n(&t->result, r, __ATOMIC_SEQ_CST);
	return NULL;
}

Test(lease_ipc, a_thread_waiting_in_acquire_does_not_hold_up_other_threads_on_the_same_client)
{
	const char *name = seg_name("threads"), *other = seg_name("other");
	shmbuf_client *c = client_new(), *holder = client_new();
	struct waiting_thread t = { .c = c, .name = name, .result = 1 };
	shmbuf_view r, v;
	pthread_t thread;
	int64_t t0;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(holder, name, 0, 0, SHMBUF_READ, 0, &r, sizeof(r)), 0);
	cr_assert_eq(pthread_create(&thread, NULL, acquire_and_wait, &t), 0);
	/* These calls share c's connection with the blocked acquire. */
	cr_assert_eq(wait_for_waiters(c, name, 1, 10000), 0);
	t0 = now_ms();
	cr_assert_eq(shmbuf_create(c, other, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, other, 0, 0, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	/* Blocked behind the acquire, they would wait until the holder leaves, which it does not. */
	cr_assert_lt(now_ms() - t0, 10000, "calls waited behind the blocked acquire");
	cr_assert_eq(__atomic_load_n(&t.result, __ATOMIC_SEQ_CST), 1, "the waiting acquire is still waiting");

	cr_assert_eq(shmbuf_release(holder, &r, sizeof(r)), 0);
	cr_assert_eq(pthread_join(thread, NULL), 0);
	cr_assert_eq(t.result, 0, "granted once the reader left: %s", shmbuf_strerror(t.result));
	cr_assert_eq(shmbuf_release(c, &t.view, sizeof(t.view)), 0);
	shmbuf_disconnect(c);
	shmbuf_disconnect(holder);
	expect_clean_shutdown();
}

/* ---- holders and waiters that die ---- */

static int hold_forever(void *arg)
{
	struct job *j = arg;
	shmbuf_client *c = child_connect();
	shmbuf_view w;

	CHILD_CHECK(shmbuf_acquire(c, j->name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)) == 0);
	CHILD_CHECK(chan_send(&j->to_parent, 'H') == 0);
	for (;;)
		pause();
}

Test(lease_ipc, a_holder_killed_with_sigkill_loses_its_lease)
{
	struct job j = { .name = seg_name("killed") };
	shmbuf_client *c = client_new();
	shmbuf_stat_info st;
	shmbuf_view w;
	pid_t pid;

	chan_open(&j.to_parent);
	cr_assert_eq(shmbuf_create(c, j.name, 4096, 0600), 0);
	pid = child_spawn(hold_forever, &j);
	cr_assert_eq(chan_recv(&j.to_parent, 10000), 'H');
	cr_assert_eq(shmbuf_stat(c, j.name, &st, sizeof(st)), 0);
	cr_assert_eq(st.write_leases, 1);

	cr_assert_eq(kill(pid, SIGKILL), 0);
	child_expect_signal(pid, SIGKILL);
	/* The daemon sees the hang-up and ends the lease; waiting covers the moment between. */
	cr_assert_eq(shmbuf_acquire(c, j.name, 0, 0, SHMBUF_WRITE, 10000, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_stat(c, j.name, &st, sizeof(st)), 0);
	cr_assert_eq(st.write_leases, 1, "only ours");
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	shmbuf_disconnect(c);
	chan_close(&j.to_parent);
	expect_clean_shutdown();
}

static int wait_forever(void *arg)
{
	struct job *j = arg;
	shmbuf_client *c = child_connect();
	shmbuf_view v;

	shmbuf_acquire(c, j->name, 0, 0, SHMBUF_READ, -1, &v, sizeof(v));
	return 1; /* never granted while the parent holds its write lease */
}

Test(lease_ipc, a_waiter_killed_with_sigkill_leaves_the_queue)
{
	struct job j = { .name = seg_name("killwait") };
	shmbuf_client *c = client_new(), *other = client_new();
	shmbuf_view w, v;
	pid_t pid;

	cr_assert_eq(shmbuf_create(c, j.name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, j.name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	pid = child_spawn(wait_forever, &j);
	cr_assert_eq(wait_for_waiters(c, j.name, 1, 10000), 0);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	child_expect_signal(pid, SIGKILL);
	cr_assert_eq(wait_for_waiters(c, j.name, 0, 10000), 0, "the dead waiter's place is freed");

	/* No ghost in the queue: a non-waiting acquire is granted at once. */
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_acquire(other, j.name, 0, 0, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_release(other, &v, sizeof(v)), 0);
	shmbuf_disconnect(c);
	shmbuf_disconnect(other);
	expect_clean_shutdown();
}
