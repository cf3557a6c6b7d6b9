/* SPDX-License-Identifier: MIT */
/* test_async.c: libshmbuf's asynchronous API against a real shmbufd: callbacks run only from
 * shmbuf_dispatch() and in completion order, the fd wakes a poller, cancel ends a wait that a
 * later release does not grant, and threads mixing blocking and asynchronous calls lose nothing. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

TestSuite(async, .init = daemon_setup, .fini = daemon_teardown, .timeout = 60);

#define FRAME 4096u
#define DEADLINE_MS 10000

/* What callbacks saw, in order. */
struct log {
	int n;
	int results[64];
	uintptr_t tags[64];
	uint64_t generations[64];
	shmbuf_view views[64];
};

static struct log seen;

static void record(shmbuf_client *c, int result, shmbuf_view *v, void *userdata)
{
	(void)c;
	cr_assert_lt(seen.n, 64);
	seen.results[seen.n] = result;
	seen.tags[seen.n] = (uintptr_t)userdata;
	if (v) {
		seen.generations[seen.n] = v->generation;
		seen.views[seen.n] = *v;
	}
	seen.n++;
}

static void write_and_release(shmbuf_client *c, const char *name)
{
	shmbuf_view v;

	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, DEADLINE_MS, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
}

/* Waits (poll on shmbuf_get_fd, 10 s at most) and dispatches until n callbacks ran. */
static void dispatch_until(shmbuf_client *c, int n)
{
	struct pollfd p = { .fd = shmbuf_get_fd(c), .events = POLLIN };
	int64_t end = now_ms() + DEADLINE_MS;

	cr_assert_geq(p.fd, 0);
	while (seen.n < n) {
		cr_assert_lt(now_ms(), end, "only %d of %d callbacks ran", seen.n, n);
		poll(&p, 1, 100);
		cr_assert_geq(shmbuf_dispatch(c), 0);
	}
}

Test(async, callbacks_run_only_from_dispatch_in_completion_order)
{
	const char *name = seg_name("order");
	shmbuf_client *c = client_new();
	struct pollfd p = { .events = POLLIN };
	shmbuf_stat_info st;
	uint64_t ticket[3];

	cr_assert_eq(shmbuf_create(c, name, 3 * FRAME, 0600), 0);
	for (uintptr_t i = 0; i < 3; i++)
		cr_assert_eq(shmbuf_acquire_async(c, name, i * FRAME, FRAME, SHMBUF_READ, 0, record, (void *)i,
						  &ticket[i]), 0);
	cr_assert_neq(ticket[0], ticket[1]);
	/* The answers arrive; nothing runs until dispatch. A blocking call in
	 * between reads them (its reply comes after them) and queues them. */
	p.fd = shmbuf_get_fd(c);
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(poll(&p, 1, DEADLINE_MS), 1, "the fd is readable once answers are queued");
	cr_assert_eq(seen.n, 0);
	cr_assert_eq(shmbuf_dispatch(c), 3);
	cr_assert_eq(seen.n, 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(seen.results[i], 0);
		cr_assert_eq(seen.tags[i], (uintptr_t)i, "callback %d is for operation %lu", i,
			     (unsigned long)seen.tags[i]);
		cr_assert_eq(seen.views[i].offset, i * FRAME);
		cr_assert_eq(shmbuf_release(c, &seen.views[i], sizeof(seen.views[i])), 0);
	}
	cr_assert_eq(shmbuf_dispatch(c), 0);
	cr_assert_eq(shmbuf_cancel(c, ticket[0]), -ENOENT, "its callback ran already");
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(async, cancel_ends_a_wait_and_a_later_release_does_not_grant_it)
{
	const char *name = seg_name("cancel");
	shmbuf_client *c = client_new(), *holder = client_new();
	shmbuf_stat_info st;
	shmbuf_view held;
	uint64_t t1, t2;

	cr_assert_eq(shmbuf_create(c, name, FRAME, 0600), 0);
	cr_assert_eq(shmbuf_acquire(holder, name, 0, 0, SHMBUF_READ, 0, &held, sizeof(held)), 0);
	/* A write that queues behind the read, and a read that waits for news (parked). */
	cr_assert_eq(shmbuf_acquire_async(c, name, 0, 0, SHMBUF_WRITE, -1, record, (void *)1, &t1), 0);
	cr_assert_eq(shmbuf_acquire_newer_async(c, name, 0, 0, SHMBUF_READ, 0, -1, record, (void *)2, &t2), 0);
	cr_assert_eq(wait_for_waiters(holder, name, 2, DEADLINE_MS), 0);
	cr_assert_eq(shmbuf_cancel(c, t1), 0);
	cr_assert_eq(shmbuf_cancel(c, t2), 0);
	cr_assert_eq(shmbuf_stat(holder, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.waiters, 0, "cancelled waits left the queue");
	dispatch_until(c, 2);
	cr_assert_eq(seen.results[0], -ECANCELED);
	cr_assert_eq(seen.results[1], -ECANCELED);
	/* The release (and a write: news) would have granted both. */
	cr_assert_eq(shmbuf_release(holder, &held, sizeof(held)), 0);
	cr_assert_eq(shmbuf_acquire(holder, name, 0, 0, SHMBUF_WRITE, DEADLINE_MS, &held, sizeof(held)), 0);
	cr_assert_eq(shmbuf_release(holder, &held, sizeof(held)), 0);
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.read_leases + st.write_leases + st.waiters, 0);
	cr_assert_eq(st.generation, 1);
	cr_assert_eq(shmbuf_dispatch(c), 0);
	cr_assert_eq(seen.n, 2, "no callback after the cancelled ones");
	shmbuf_disconnect(holder);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(async, a_wait_cancelled_after_its_grant_came_gives_the_lease_back)
{
	const char *name = seg_name("late");
	shmbuf_client *c = client_new();
	shmbuf_stat_info st;
	uint64_t t;

	cr_assert_eq(shmbuf_create(c, name, FRAME, 0600), 0);
	cr_assert_eq(shmbuf_acquire_async(c, name, 0, 0, SHMBUF_WRITE, 0, record, NULL, &t), 0);
	/* A blocking call reads the grant (answered before it) and queues it. */
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(shmbuf_cancel(c, t), 0);
	dispatch_until(c, 1);
	cr_assert_eq(seen.results[0], -ECANCELED);
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.write_leases, 0, "the grant was released");
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- another thread's blocking call reads an asynchronous answer ---- */

struct blocker {
	shmbuf_client *c;
	const char *name;
	int result;
};

static void *block_in_acquire(void *arg)
{
	struct blocker *b = arg;
	shmbuf_view v;

	b->result = shmbuf_acquire_newer(b->c, b->name, 0, 0, SHMBUF_READ, 0, DEADLINE_MS, &v, sizeof(v));
	if (b->result == 0)
		shmbuf_release(b->c, &v, sizeof(v));
	return NULL;
}

Test(async, an_answer_read_by_a_blocking_thread_still_wakes_the_fd)
{
	const char *name = seg_name("handoff"), *other = seg_name("other");
	shmbuf_client *c = client_new(), *w = client_new();
	struct blocker b = { .c = c, .name = other };
	shmbuf_view held;
	pthread_t t;

	cr_assert_eq(shmbuf_create(w, name, FRAME, 0600), 0);
	cr_assert_eq(shmbuf_create(w, other, FRAME, 0600), 0);
	cr_assert_eq(shmbuf_acquire(w, name, 0, 0, SHMBUF_WRITE, 0, &held, sizeof(held)), 0);
	cr_assert_eq(shmbuf_acquire_async(c, name, 0, 0, SHMBUF_READ, -1, record, NULL, NULL), 0);
	cr_assert_eq(wait_for_waiters(w, name, 1, DEADLINE_MS), 0);
	/* This thread becomes the reader of c's socket while it waits. */
	cr_assert_eq(pthread_create(&t, NULL, block_in_acquire, &b), 0);
	cr_assert_eq(wait_for_waiters(w, other, 1, DEADLINE_MS), 0);
	cr_assert_eq(shmbuf_release(w, &held, sizeof(held)), 0);
	dispatch_until(c, 1);
	cr_assert_eq(seen.results[0], 0);
	cr_assert_eq(shmbuf_release(c, &seen.views[0], sizeof(seen.views[0])), 0);
	write_and_release(w, other);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(b.result, 0);
	shmbuf_disconnect(w);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- threads and asynchronous calls on one client lose nothing ---- */

#define THREAD_ROUNDS 300

struct worker {
	shmbuf_client *c;
	const char *name;
	int failures;
};

static void *sync_rounds(void *arg)
{
	struct worker *w = arg;
	shmbuf_view v;

	for (int i = 0; i < THREAD_ROUNDS; i++) {
		if (shmbuf_acquire(w->c, w->name, 0, 0, SHMBUF_WRITE, DEADLINE_MS, &v, sizeof(v)) != 0) {
			w->failures++;
			continue;
		}
		if (shmbuf_release(w->c, &v, sizeof(v)) != 0)
			w->failures++;
	}
	return NULL;
}

static atomic_int async_done, async_failed;

static void count_and_release(shmbuf_client *c, int result, shmbuf_view *v, void *userdata)
{
	(void)userdata;
	if (result == 0)
		shmbuf_release(c, v, sizeof(*v));
	else
		atomic_fetch_add(&async_failed, 1);
	atomic_fetch_add(&async_done, 1);
}

Test(async, threads_mixing_blocking_and_async_calls_lose_nothing)
{
	const char *a = seg_name("mixa"), *b = seg_name("mixb"), *mine = seg_name("mixc");
	shmbuf_client *c = client_new();
	struct worker w1 = { .c = c, .name = a }, w2 = { .c = c, .name = b };
	struct pollfd p = { .events = POLLIN };
	pthread_t t1, t2;
	int started = 0;
	int64_t end = now_ms() + 4 * DEADLINE_MS;

	cr_assert_eq(shmbuf_create(c, a, FRAME, 0600), 0);
	cr_assert_eq(shmbuf_create(c, b, FRAME, 0600), 0);
	cr_assert_eq(shmbuf_create(c, mine, FRAME, 0600), 0);
	p.fd = shmbuf_get_fd(c);
	cr_assert_eq(pthread_create(&t1, NULL, sync_rounds, &w1), 0);
	cr_assert_eq(pthread_create(&t2, NULL, sync_rounds, &w2), 0);
	while (atomic_load(&async_done) < THREAD_ROUNDS) {
		cr_assert_lt(now_ms(), end, "%d of %d asynchronous acquires answered", atomic_load(&async_done),
			     THREAD_ROUNDS);
		/* One in flight at a time: each waits for the previous one's release. */
		if (started == atomic_load(&async_done) && started < THREAD_ROUNDS) {
			cr_assert_eq(shmbuf_acquire_async(c, mine, 0, 0, SHMBUF_WRITE, DEADLINE_MS, count_and_release,
							  NULL, NULL), 0);
			started++;
		}
		poll(&p, 1, 100);
		cr_assert_geq(shmbuf_dispatch(c), 0);
	}
	cr_assert_eq(pthread_join(t1, NULL), 0);
	cr_assert_eq(pthread_join(t2, NULL), 0);
	cr_assert_eq(w1.failures + w2.failures, 0);
	cr_assert_eq(atomic_load(&async_failed), 0);
	cr_assert_eq(shmbuf_release_errors(c), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(async, a_lost_connection_fails_pending_operations_in_dispatch)
{
	const char *name = seg_name("lost");
	shmbuf_client *c;
	struct pollfd p = { .events = POLLIN };
	int64_t end = now_ms() + DEADLINE_MS;
	siginfo_t info;
	int r;

	/* The daemon does not come back: without this the client would first try to
	 * reconnect for its whole bound (30 s) before reporting the loss. */
	cr_assert_eq(setenv("SHMBUF_RECONNECT", "0", 1), 0);
	c = client_new();
	cr_assert_eq(shmbuf_create(c, name, FRAME, 0600), 0);
	cr_assert_eq(shmbuf_acquire_newer_async(c, name, 0, 0, SHMBUF_READ, 0, -1, record, NULL, NULL), 0);
	p.fd = shmbuf_get_fd(c);
	/* Stopped behind the test's back; left unreaped (WNOWAIT) for expect_clean_shutdown(). */
	cr_assert_eq(kill(daemon_pid(), SIGTERM), 0);
	cr_assert_eq(waitid(P_PID, (id_t)daemon_pid(), &info, WEXITED | WNOWAIT), 0);
	do {
		cr_assert_lt(now_ms(), end, "the lost connection was not reported");
		poll(&p, 1, 100);
		r = shmbuf_dispatch(c);
	} while (r >= 0);
	cr_assert_eq(r, -ECONNRESET);
	cr_assert_eq(seen.n, 1);
	cr_assert_eq(seen.results[0], -ECONNRESET);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(async, disconnect_drops_pending_operations_without_callbacks)
{
	const char *name = seg_name("drop");
	shmbuf_client *c = client_new(), *w = client_new();
	shmbuf_view held;

	cr_assert_eq(shmbuf_create(w, name, FRAME, 0600), 0);
	cr_assert_eq(shmbuf_acquire(w, name, 0, 0, SHMBUF_WRITE, 0, &held, sizeof(held)), 0);
	cr_assert_geq(shmbuf_get_fd(c), 0);
	/* One waits, one is granted and never dispatched. */
	cr_assert_eq(shmbuf_acquire_async(c, name, 0, 0, SHMBUF_READ, -1, record, NULL, NULL), 0);
	cr_assert_eq(shmbuf_create(c, seg_name("drop2"), FRAME, 0600), 0);
	cr_assert_eq(shmbuf_acquire_async(c, seg_name("drop2"), 0, 0, SHMBUF_READ, 0, record, NULL, NULL), 0);
	cr_assert_eq(wait_for_waiters(w, name, 1, DEADLINE_MS), 0);
	shmbuf_disconnect(c);
	cr_assert_eq(seen.n, 0);
	cr_assert_eq(wait_for_waiters(w, name, 0, DEADLINE_MS), 0);
	cr_assert_eq(shmbuf_release(w, &held, sizeof(held)), 0);
	shmbuf_disconnect(w);
	expect_clean_shutdown();
}
