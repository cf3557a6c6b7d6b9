/* SPDX-License-Identifier: MIT */
/* test_client_introspect.c: libshmbuf's introspection against a real shmbufd: listings longer
 * than one page, and events read by one thread while others make calls on the same client. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

TestSuite(introspect, .init = daemon_setup, .fini = daemon_teardown, .timeout = 30);

/* ---- listings ---- */

Test(introspect, listings_span_several_pages)
{
	enum { SEGMENTS = 40, LEASES = 35, CLIENTS = 20 }; /* pages hold 16 */
	shmbuf_client *c = client_new(), *others[CLIENTS];
	shmbuf_segment_info *segs;
	shmbuf_lease_info *leases;
	shmbuf_client_info *clients;
	shmbuf_view views[LEASES];
	char names[SEGMENTS][64];
	size_t n, selves = 0;

	for (int i = 0; i < SEGMENTS; i++) {
		snprintf(names[i], sizeof(names[i]), "page.%d.%02d", (int)getpid(), i);
		cr_assert_eq(shmbuf_create(c, names[i], 4096 + (uint64_t)i, 0600), 0);
	}
	cr_assert_eq(shmbuf_list_segments(c, &segs, &n, sizeof(*segs)), 0);
	cr_assert_eq(n, SEGMENTS);
	for (size_t i = 0; i < n; i++) {
		/* In creation order, each with its own figures. */
		cr_expect_str_eq(segs[i].name, names[i]);
		cr_expect_eq(segs[i].size, 4096 + i);
		cr_expect_eq(segs[i].mode, 0600);
		cr_expect_eq(segs[i].pid, getpid());
		cr_expect(!(segs[i].flags & SHMBUF_SEGMENT_DESTROYED));
		if (i > 0)
			cr_expect_gt(segs[i].id, segs[i - 1].id);
	}
	shmbuf_free(segs);

	for (int i = 0; i < LEASES; i++)
		cr_assert_eq(shmbuf_acquire(c, names[0], (uint64_t)i * 100, 100, SHMBUF_READ, 0, &views[i], sizeof(views[i])), 0);
	cr_assert_eq(shmbuf_list_leases(c, names[0], &leases, &n, sizeof(*leases)), 0);
	cr_assert_eq(n, LEASES);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(leases[i].lease_id, views[i].lease_id);
		cr_expect_eq(leases[i].offset, i * 100);
		cr_expect_eq(leases[i].length, 100);
		cr_expect(!(leases[i].flags & SHMBUF_LEASE_WRITE) && !(leases[i].flags & SHMBUF_LEASE_WAITING));
		cr_expect_eq(leases[i].pid, getpid());
		cr_expect_str_eq(leases[i].segment, names[0]);
	}
	shmbuf_free(leases);
	cr_assert_eq(shmbuf_list_leases(c, NULL, &leases, &n, sizeof(*leases)), 0);
	cr_expect_eq(n, LEASES);
	shmbuf_free(leases);
	cr_assert_eq(shmbuf_list_leases(c, names[1], &leases, &n, sizeof(*leases)), 0);
	cr_expect_eq(n, 0);
	shmbuf_free(leases);
	for (int i = 0; i < LEASES; i++)
		cr_assert_eq(shmbuf_release(c, &views[i], sizeof(views[i])), 0);

	for (int i = 0; i < CLIENTS; i++)
		others[i] = client_new();
	cr_assert_eq(shmbuf_list_clients(c, &clients, &n, sizeof(*clients)), 0);
	cr_expect_eq(n, CLIENTS + 1);
	for (size_t i = 0; i < n; i++) {
		selves += (clients[i].flags & SHMBUF_CLIENT_SELF) != 0;
		cr_expect_eq(clients[i].pid, getpid());
		cr_expect_eq(clients[i].uid, getuid());
	}
	cr_expect_eq(selves, 1);
	shmbuf_free(clients);
	for (int i = 0; i < CLIENTS; i++)
		shmbuf_disconnect(others[i]);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(introspect, leases_of_a_missing_segment_is_enoent)
{
	shmbuf_client *c = client_new();
	shmbuf_lease_info *leases = (void *)1;
	size_t n = 1;

	cr_expect_eq(shmbuf_list_leases(c, seg_name("none"), &leases, &n, sizeof(*leases)), -ENOENT);
	cr_expect_null(leases);
	cr_expect_eq(n, 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(introspect, status_counts_what_exists)
{
	shmbuf_client *c = client_new();
	shmbuf_server_status st;
	shmbuf_view v;

	cr_assert_eq(shmbuf_create(c, seg_name("st"), 8192, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, seg_name("st"), 0, 0, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_server_status_get(c, &st, sizeof(st)), 0);
	cr_expect_eq(st.pid, daemon_pid());
	cr_expect_str_eq(st.socket_path, daemon_socket());
	cr_expect_eq(st.segments, 1);
	cr_expect_eq(st.bytes, 8192);
	cr_expect_eq(st.write_leases, 1);
	cr_expect_eq(st.read_leases, 0);
	cr_expect_eq(st.clients, 1);
	cr_expect_gt(st.max_clients, 0);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- events ---- */

Test(introspect, next_event_needs_a_subscription_and_keeps_its_deadline)
{
	shmbuf_client *c = client_new();
	shmbuf_event e;
	int64_t start;

	cr_expect_eq(shmbuf_next_event(c, &e, sizeof(e), 0), -EINVAL);
	cr_assert_eq(shmbuf_subscribe(c), 0);
	cr_expect_eq(shmbuf_next_event(c, &e, sizeof(e), 0), -ETIMEDOUT);
	start = now_ms();
	cr_expect_eq(shmbuf_next_event(c, &e, sizeof(e), 150), -ETIMEDOUT);
	cr_expect_geq(now_ms() - start, 150);
	cr_expect_lt(now_ms() - start, 10000, "a 150 ms wait hung");
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* Next event of the given type on the segment, skipping others; fails after 10 s. */
static shmbuf_event expect_event(shmbuf_client *c, int type, const char *segment)
{
	int64_t end = now_ms() + 10000;
	shmbuf_event e;

	for (;;) {
		int left = (int)(end - now_ms()), r;

		cr_assert_gt(left, 0, "no %s event for '%s' within 10 s", shmbuf_event_name(type), segment);
		r = shmbuf_next_event(c, &e, sizeof(e), left);
		cr_assert(r == 0 || r == -ETIMEDOUT, "shmbuf_next_event: %s", shmbuf_strerror(r));
		if (r == 0 && e.type == type && strcmp(e.segment, segment) == 0)
			return e;
	}
}

Test(introspect, events_describe_each_change)
{
	const char *name = seg_name("ev");
	shmbuf_client *w = client_new(), *c = client_new();
	shmbuf_event e, acq;
	shmbuf_view v;

	cr_assert_eq(shmbuf_subscribe(w), 0);
	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	e = expect_event(w, SHMBUF_EVENT_SEGMENT_CREATED, name);
	cr_expect_eq(e.size, 4096);
	cr_expect_eq(e.pid, getpid());
	cr_expect_gt(e.time_ns, 0);
	cr_expect_str_eq(shmbuf_event_name(e.type), "segment-created");

	cr_assert_eq(shmbuf_acquire(c, name, 10, 20, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	acq = expect_event(w, SHMBUF_EVENT_LEASE_ACQUIRED, name);
	cr_expect_eq(acq.lease_id, v.lease_id);
	cr_expect_eq(acq.offset, 10);
	cr_expect_eq(acq.length, 20);
	cr_expect(acq.flags & SHMBUF_LEASE_WRITE);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	e = expect_event(w, SHMBUF_EVENT_LEASE_RELEASED, name);
	cr_expect_eq(e.lease_id, acq.lease_id);
	cr_assert_eq(shmbuf_resize(c, name, 8192), 0);
	cr_expect_eq(expect_event(w, SHMBUF_EVENT_SEGMENT_RESIZED, name).size, 8192);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	expect_event(w, SHMBUF_EVENT_SEGMENT_DESTROYED, name);
	cr_expect_str_eq(shmbuf_event_name(12345), "unknown");
	shmbuf_disconnect(c);
	shmbuf_disconnect(w);
	expect_clean_shutdown();
}

/* A thread that waits for one event on a shared client. */
struct event_wait {
	shmbuf_client *c;
	int type;
	const char *segment;
	int result;
	shmbuf_event e;
};

static void *wait_event_thread(void *arg)
{
	struct event_wait *w = arg;

	for (;;) {
		w->result = shmbuf_next_event(w->c, &w->e, sizeof(w->e), -1);
		if (w->result < 0 || (w->e.type == w->type && strcmp(w->e.segment, w->segment) == 0))
			return NULL;
	}
}

Test(introspect, calls_go_on_while_a_thread_waits_for_events)
{
	const char *name = seg_name("shared");
	shmbuf_client *c = client_new();
	struct event_wait w = { .c = c, .type = SHMBUF_EVENT_SEGMENT_DESTROYED, .segment = name };
	shmbuf_stat_info st;
	shmbuf_view v;
	pthread_t t;

	cr_assert_eq(shmbuf_subscribe(c), 0);
	cr_assert_eq(pthread_create(&t, NULL, wait_event_thread, &w), 0);
	/* The waiting thread reads the socket; these replies reach this thread through it. */
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
		cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
		cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
		cr_expect_eq(st.write_leases, 1);
		cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
		if (i < 49)
			cr_assert_eq(shmbuf_destroy(c, name), 0);
	}
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_expect_eq(w.result, 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

struct blocked_acquire {
	shmbuf_client *c;
	const char *name;
	int result;
};

static void *acquire_thread(void *arg)
{
	struct blocked_acquire *b = arg;
	shmbuf_view v;

	b->result = shmbuf_acquire(b->c, b->name, 0, 0, SHMBUF_WRITE, -1, &v, sizeof(v));
	if (b->result == 0)
		b->result = shmbuf_release(b->c, &v, sizeof(v));
	return NULL;
}

/* A thread blocked in acquire holds the reader role in a blocking recv: an event
 * wait must still end at its deadline, and once the acquire returns, the event
 * waiter must take the reader role over, or later events would never be read. */
Test(introspect, event_waits_keep_deadlines_and_take_over_reading)
{
	const char *name = seg_name("busy"), *later = seg_name("later");
	shmbuf_client *c = client_new(), *holder = client_new();
	struct blocked_acquire b = { .c = c, .name = name };
	struct event_wait w = { .c = c, .type = SHMBUF_EVENT_SEGMENT_CREATED, .segment = later };
	shmbuf_event e;
	shmbuf_view hv;
	pthread_t tb, tw;
	int64_t start;

	cr_assert_eq(shmbuf_create(holder, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(holder, name, 0, 0, SHMBUF_WRITE, 0, &hv, sizeof(hv)), 0);
	cr_assert_eq(shmbuf_subscribe(c), 0);
	cr_assert_eq(pthread_create(&tb, NULL, acquire_thread, &b), 0);
	cr_assert_eq(wait_for_waiters(holder, name, 1, 10000), 0);

	/* The waiting request's own event is the last one for now. */
	e = expect_event(c, SHMBUF_EVENT_LEASE_WAITING, name);
	cr_expect(e.flags & SHMBUF_LEASE_WRITE);
	start = now_ms();
	cr_expect_eq(shmbuf_next_event(c, &e, sizeof(e), 200), -ETIMEDOUT);
	cr_expect_geq(now_ms() - start, 200);
	cr_expect_lt(now_ms() - start, 10000, "a 200 ms wait hung");

	cr_assert_eq(pthread_create(&tw, NULL, wait_event_thread, &w), 0);
	cr_assert_eq(shmbuf_release(holder, &hv, sizeof(hv)), 0);
	cr_assert_eq(pthread_join(tb, NULL), 0);
	cr_expect_eq(b.result, 0);
	/* Nothing else calls on c now: only the event thread can read this. */
	cr_assert_eq(shmbuf_create(holder, later, 4096, 0600), 0);
	cr_assert_eq(pthread_join(tw, NULL), 0);
	cr_expect_eq(w.result, 0);
	shmbuf_disconnect(holder);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* Stop the daemon behind the test's back, and wait until it has exited. It is
 * left unreaped (WNOWAIT) for expect_clean_shutdown(), which would otherwise
 * send a second SIGTERM into its shutdown. */
static void daemon_kill_and_wait(void)
{
	siginfo_t info;

	cr_assert_eq(kill(daemon_pid(), SIGTERM), 0);
	cr_assert_eq(waitid(P_PID, (id_t)daemon_pid(), &info, WEXITED | WNOWAIT), 0, "waitid: %s", strerror(errno));
}

Test(introspect, a_lost_connection_ends_event_waits)
{
	shmbuf_client *c;
	/* The daemon does not come back: without this the client would first try to
	 * reconnect for its whole bound (30 s) before reporting the loss. */
	cr_assert_eq(setenv("SHMBUF_RECONNECT", "0", 1), 0);
	c = client_new();
	struct event_wait w = { .c = c, .type = -1, .segment = "" };
	pthread_t t;

	cr_assert_eq(shmbuf_subscribe(c), 0);
	cr_assert_eq(pthread_create(&t, NULL, wait_event_thread, &w), 0);
	daemon_kill_and_wait();
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_expect_eq(w.result, -ECONNRESET);
	cr_expect_eq(shmbuf_next_event(c, &w.e, sizeof(w.e), 0), -ECONNRESET);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- a departing client's waits ---- */

struct two_waits {
	const char *name;
	struct chan ready;
};

static void *wait_forever(void *arg)
{
	struct { shmbuf_client *c; const char *name; uint64_t off, len; } *w = arg;
	shmbuf_view v;

	shmbuf_acquire(w->c, w->name, w->off, w->len, SHMBUF_WRITE, -1, &v, sizeof(v));
	return NULL;
}

/* In a child: wait for [0,2) (blocked by the parent's lease), then for [1,2)
 * (blocked only by the first wait), report, and stay blocked until killed. */
static int two_waits_child(void *arg)
{
	struct two_waits *t = arg;
	struct { shmbuf_client *c; const char *name; uint64_t off, len; } w1, w2;
	shmbuf_client *c;
	pthread_t a, b;

	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c) == 0);
	w1 = (typeof(w1)){ c, t->name, 0, 2 };
	w2 = (typeof(w2)){ c, t->name, 1, 1 };
	CHILD_CHECK(pthread_create(&a, NULL, wait_forever, &w1) == 0);
	CHILD_CHECK(wait_for_waiters(c, t->name, 1, 10000) == 0);
	CHILD_CHECK(pthread_create(&b, NULL, wait_forever, &w2) == 0);
	CHILD_CHECK(wait_for_waiters(c, t->name, 2, 10000) == 0);
	CHILD_CHECK(chan_send(&t->ready, 'w') == 0);
	pause();
	return 0;
}

Test(introspect, a_departing_clients_waits_are_cancelled_and_none_is_granted_to_it)
{
	struct two_waits t = { .name = seg_name("depart") };
	shmbuf_client *w = client_new(), *a = client_new();
	int cancelled = 0, acquired_by_child = 0;
	uint64_t child_client = 0;
	shmbuf_event e;
	shmbuf_view v;
	pid_t pid;

	cr_assert_eq(shmbuf_create(a, t.name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(a, t.name, 0, 1, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_subscribe(w), 0);
	chan_open(&t.ready);
	pid = child_spawn(two_waits_child, &t);
	cr_assert_eq(chan_recv(&t.ready, 10000), 'w', "the child did not start waiting");
	kill(pid, SIGKILL);
	child_expect_signal(pid, SIGKILL);
	/* Everything up to the child's disconnect event. */
	for (;;) {
		cr_assert_eq(shmbuf_next_event(w, &e, sizeof(e), 10000), 0, "events stopped before the child's disconnect");
		if (e.type == SHMBUF_EVENT_LEASE_WAITING && e.pid == pid)
			child_client = e.client_id;
		if (e.type == SHMBUF_EVENT_LEASE_CANCELLED && e.client_id == child_client) {
			cancelled++;
			cr_expect_eq(e.reason, SHMBUF_CANCEL_DISCONNECT);
		}
		if (e.type == SHMBUF_EVENT_LEASE_ACQUIRED && e.client_id == child_client)
			acquired_by_child++;
		if (e.type == SHMBUF_EVENT_CLIENT_DISCONNECTED && e.client_id == child_client)
			break;
	}
	cr_expect_eq(cancelled, 2, "both waits end as cancelled");
	cr_expect_eq(acquired_by_child, 0, "a departing client is granted nothing on its way out");
	cr_assert_eq(shmbuf_release(a, &v, sizeof(v)), 0);
	chan_close(&t.ready);
	shmbuf_disconnect(a);
	shmbuf_disconnect(w);
	expect_clean_shutdown();
}

Test(introspect, events_past_the_librarys_queue_are_counted_as_dropped)
{
	shmbuf_client *w = client_new();
	char name[64];
	shmbuf_event e;
	uint64_t dropped;
	int n = 0;

	cr_assert_eq(shmbuf_events_dropped(NULL), 0);
	cr_assert_eq(shmbuf_subscribe(w), 0);
	cr_assert_eq(shmbuf_events_dropped(w), 0);
	/* Our own calls read the socket, so their events queue up unread: per
	 * pair SEGMENT_CREATED, SEGMENT_DESTROYED and SEGMENT_FREED, 6300 in all. */
	for (int i = 0; i < 2100; i++) {
		snprintf(name, sizeof(name), "%s.%d", seg_name("flood"), i);
		cr_assert_eq(shmbuf_create(w, name, 1, 0600), 0);
		cr_assert_eq(shmbuf_destroy(w, name), 0);
	}
	dropped = shmbuf_events_dropped(w);
	cr_assert_geq(dropped, 6300 - 4096 - 16, "only %llu events counted as dropped", (unsigned long long)dropped);
	/* The last events follow the last reply: wait for them (the loop ends at the 6300th). */
	while ((uint64_t)n + shmbuf_events_dropped(w) < 6300 && shmbuf_next_event(w, &e, sizeof(e), 10000) == 0)
		n++;
	cr_assert_eq(shmbuf_next_event(w, &e, sizeof(e), 0), -ETIMEDOUT, "no event beyond the 6300");
	cr_assert_eq((uint64_t)n + shmbuf_events_dropped(w), 6300, "%d read + %llu dropped", n,
		     (unsigned long long)shmbuf_events_dropped(w));
	shmbuf_disconnect(w);
	expect_clean_shutdown();
}

struct shrink_wait {
	shmbuf_client *c;
	const char *name;
	int result;
};

static void *wait_for_30_to_50(void *arg)
{
	struct shrink_wait *sw = arg;
	shmbuf_view v;

	sw->result = shmbuf_acquire(sw->c, sw->name, 30, 20, SHMBUF_READ, -1, &v, sizeof(v));
	return NULL;
}

Test(introspect, a_waiter_is_listed_with_its_blocker_and_its_cancellation_says_why)
{
	const char *name = seg_name("why");
	shmbuf_client *w = client_new(), *c = client_new(), *d = client_new();
	struct shrink_wait sw = { d, name, 1 };
	shmbuf_lease_info *l;
	shmbuf_event e;
	shmbuf_view held, v;
	uint64_t waiter_id = 0;
	size_t n;
	pthread_t t;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 40, SHMBUF_WRITE, 0, &held, sizeof(held)), 0);
	cr_assert_eq(shmbuf_subscribe(w), 0);

	/* A wait that times out. */
	cr_assert_eq(shmbuf_acquire(d, name, 0, 10, SHMBUF_READ, 20, &v, sizeof(v)), -ETIMEDOUT);
	e = expect_event(w, SHMBUF_EVENT_LEASE_CANCELLED, name);
	cr_expect_eq(e.reason, SHMBUF_CANCEL_TIMEOUT);

	/* A wait the holder's lease blocks is listed with it; a shrink then cancels it. */
	cr_assert_eq(pthread_create(&t, NULL, wait_for_30_to_50, &sw), 0);
	cr_assert_eq(wait_for_waiters(c, name, 1, 10000), 0);
	cr_assert_eq(shmbuf_list_leases(c, name, &l, &n, sizeof(*l)), 0);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (l[i].flags & SHMBUF_LEASE_WAITING) {
			cr_expect_eq(l[i].blocked_by, held.lease_id);
			waiter_id = l[i].lease_id;
		} else {
			cr_expect_eq(l[i].blocked_by, 0);
		}
	}
	shmbuf_free(l);
	cr_assert_neq(waiter_id, 0);
	/* The writer holds [0,40), the reader waits for [30,50): shrinking to 40 cuts only the wait. */
	cr_assert_eq(shmbuf_resize(c, name, 40), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_expect_eq(sw.result, -ERANGE);
	e = expect_event(w, SHMBUF_EVENT_LEASE_CANCELLED, name);
	cr_expect_eq(e.lease_id, waiter_id);
	cr_expect_eq(e.reason, SHMBUF_CANCEL_SHRINK);

	/* A refused acquire names the holder. */
	cr_assert_eq(shmbuf_acquire(d, name, 0, 1, SHMBUF_READ, 0, &v, sizeof(v)), -EBUSY);
	cr_expect(strstr(shmbuf_last_error_detail(), "write lease"), "%s", shmbuf_last_error_detail());
	cr_assert_eq(shmbuf_release(c, &held, sizeof(held)), 0);
	shmbuf_disconnect(d);
	shmbuf_disconnect(c);
	shmbuf_disconnect(w);
	expect_clean_shutdown();
}
