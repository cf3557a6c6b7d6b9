/* SPDX-License-Identifier: MIT */
/* test_reclaim.c: leases outlive the daemon (issue 10, second half), on raw sockets: a lease
 * held across a kill -9 is an orphan that conflicts until its process RECLAIMs it (then it
 * releases like any lease), its holder is found dead, or the grace period ends; waiters queue
 * behind orphans; a RECLAIM that does not match is refused; --fresh makes it STALE; lease ids
 * never repeat across restarts; orphans count against their uid's leases (LIST_USERS), and
 * leases on sealed segments are not recorded. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "proto.h"
#include "wire.h"

TestSuite(reclaim, .init = daemon_setup, .fini = daemon_teardown, .timeout = 40);

static void send_reclaim(int s, uint32_t seq, const struct proto_acquire_reply *a, uint64_t length, uint32_t flags)
{
	struct proto_msg m = { .op = PROTO_OP_RECLAIM, .seq = seq };

	m.u.reclaim = (struct proto_reclaim){ .lease_id = a->lease_id, .segment_id = a->segment_id,
					      .offset = a->offset, .length = length, .flags = PROTO_ACQ_READ };
	wire_request_patched(s, &m, 32, flags); /* flags: u32 after four u64s */
}

static void reclaim(int s, uint32_t seq, const struct proto_acquire_reply *a, uint16_t status)
{
	send_reclaim(s, seq, a, a->length, a->flags & ~PROTO_ACQ_FD);
	wire_expect_reply(s, PROTO_OP_RECLAIM, seq, status, NULL);
}

/* ACQUIRE answered with an error status. */
static void acquire_fails(int s, uint32_t seq, const char *name, uint32_t flags, int32_t timeout_ms, uint16_t status)
{
	wire_send_acquire(s, seq, name, flags, timeout_ms, 0);
	wire_expect_reply(s, PROTO_OP_ACQUIRE, seq, status, NULL);
}

/* A session holding a WRITE lease on [0, 4096) of a new 8 KiB segment name. */
static int hold_write(const char *name, struct proto_acquire_reply *a)
{
	int s = wire_session(), fd;

	wire_named(s, PROTO_OP_CREATE, 2, name, 8192);
	fd = wire_acquire(s, 3, name, PROTO_ACQ_WRITE, 0, a);
	if (fd >= 0)
		close(fd);
	return s;
}

Test(reclaim, a_write_lease_held_across_a_kill_is_kept_and_released_after)
{
	const char *name = seg_name("held");
	struct proto_acquire_reply a, b;
	int s = hold_write(name, &a), other, back, fd;
	shmbuf_server_status st;

	daemon_kill(SIGKILL);
	close(s);
	daemon_restart(NULL);
	other = wire_session();
	/* The orphan conflicts: nothing that overlaps it is granted. */
	acquire_fails(other, 2, name, PROTO_ACQ_WRITE, 0, PROTO_E_BUSY);
	acquire_fails(other, 3, name, PROTO_ACQ_READ, 0, PROTO_E_BUSY);
	st = daemon_status();
	cr_expect_eq(st.restarts, 1);
	cr_expect_gt(st.grace_left_ms, 5000, "in grace: %u ms left", st.grace_left_ms);
	cr_expect_eq(st.orphans, 1);
	cr_expect_eq(st.write_leases, 1, "an orphan counts as held");
	back = wire_session();
	reclaim(back, 2, &a, PROTO_OK);
	reclaim(back, 3, &a, PROTO_E_NOENT); /* once */
	/* Every lease is back: the grace ends at once, not after 10 s. */
	st = daemon_status();
	cr_expect_eq(st.grace_left_ms, 0, "still in grace: %u ms left", st.grace_left_ms);
	cr_expect_eq(st.orphans, 0);
	cr_expect_eq(st.reclaimed_leases, 1);
	cr_expect_eq(st.lost_leases, 0);
	acquire_fails(other, 4, name, PROTO_ACQ_WRITE, 0, PROTO_E_BUSY);
	wire_send_release(back, 4, a.lease_id, 0);
	wire_expect_reply(back, PROTO_OP_RELEASE, 4, PROTO_OK, NULL);
	fd = wire_acquire(other, 5, name, PROTO_ACQ_WRITE, 0, &b);
	cr_expect_gt(b.lease_id, a.lease_id, "lease ids never repeat across restarts");
	if (fd >= 0)
		close(fd);
	close(other);
	close(back);
	expect_clean_shutdown();
}

Test(reclaim, a_reclaim_that_does_not_match_is_refused)
{
	const char *name = seg_name("match");
	struct proto_acquire_reply a, wrong;
	int s = hold_write(name, &a), back;

	daemon_kill(SIGKILL);
	close(s);
	daemon_restart(NULL);
	back = wire_session();
	send_reclaim(back, 2, &a, a.length / 2, PROTO_ACQ_WRITE);
	wire_expect_reply(back, PROTO_OP_RECLAIM, 2, PROTO_E_NOENT, NULL);
	send_reclaim(back, 3, &a, a.length, PROTO_ACQ_READ);
	wire_expect_reply(back, PROTO_OP_RECLAIM, 3, PROTO_E_NOENT, NULL);
	send_reclaim(back, 4, &a, a.length, 3);
	wire_expect_reply(back, PROTO_OP_RECLAIM, 4, PROTO_E_INVAL, NULL);
	wrong = a;
	wrong.segment_id++;
	reclaim(back, 5, &wrong, PROTO_E_NOENT);
	wrong = a;
	wrong.lease_id += 100;
	reclaim(back, 6, &wrong, PROTO_E_NOENT);
	reclaim(back, 7, &a, PROTO_OK); /* still there to take */
	close(back);
	expect_clean_shutdown();
}

static char dead_name[300]; /* seg_name() in a child would name the child's pid */

/* A child that holds a WRITE lease of dead_name until killed. */
static int hold_and_wait(void *arg)
{
	struct chan *ch = arg;
	shmbuf_client *c;
	shmbuf_view v;

	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c) == 0);
	CHILD_CHECK(shmbuf_acquire(c, dead_name, 0, 4096, SHMBUF_WRITE, 5000, &v, sizeof(v)) == 0);
	CHILD_CHECK(chan_send(ch, 'h') == 0);
	for (;;)
		pause();
	return 0;
}

Test(reclaim, a_holder_that_died_during_the_downtime_loses_its_leases_at_once)
{
	shmbuf_client *c = client_new();
	struct chan ch;
	shmbuf_view v;
	pid_t child;

	snprintf(dead_name, sizeof(dead_name), "%s", seg_name("dead"));
	cr_assert_eq(shmbuf_create(c, dead_name, 8192, 0600), 0);
	shmbuf_disconnect(c);
	chan_open(&ch);
	child = child_spawn(hold_and_wait, &ch);
	cr_assert_eq(chan_recv(&ch, 5000), 'h');
	daemon_kill(SIGKILL);
	kill(child, SIGKILL);
	child_expect_signal(child, SIGKILL);
	chan_close(&ch);
	daemon_restart(NULL); /* grace 10 s: only the pid check can free the lease now */
	c = client_new();
	cr_assert_eq(shmbuf_acquire(c, dead_name, 0, 4096, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	cr_expect_eq(daemon_status().lost_leases, 1);
	cr_expect_eq(daemon_status().grace_left_ms, 0, "no orphan left: no grace");
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(reclaim, a_waiter_queues_behind_an_orphan_until_the_grace_ends)
{
	const char *name = seg_name("grace");
	struct proto_acquire_reply a, b;
	int s = hold_write(name, &a), other, fd;
	int64_t t0;

	daemon_kill(SIGKILL);
	close(s);
	daemon_restart((const char *const[]){ "--grace", "0.6", NULL });
	t0 = now_ms();
	other = wire_session();
	acquire_fails(other, 2, name, PROTO_ACQ_WRITE, 0, PROTO_E_BUSY);
	wire_send_acquire(other, 3, name, PROTO_ACQ_WRITE, 4000, 0);
	fd = wire_expect_grant(other, 3, &b); /* this process is alive but never reclaims: the grace ends */
	cr_expect_geq(now_ms() - t0, 300, "granted after %lld ms, before the grace ended",
		      (long long)(now_ms() - t0));
	cr_expect_eq(daemon_status().lost_leases, 1);
	cr_expect_eq(daemon_status().grace_left_ms, 0);
	if (fd >= 0)
		close(fd);
	close(other);
	expect_clean_shutdown();
}

Test(reclaim, a_lease_whose_segment_did_not_come_back_is_stale)
{
	const char *name = seg_name("fresh");
	struct proto_acquire_reply a;
	int s = hold_write(name, &a), back;

	daemon_kill(SIGKILL);
	close(s);
	daemon_restart((const char *const[]){ "--fresh", NULL });
	back = wire_session();
	reclaim(back, 2, &a, PROTO_E_STALE);
	close(back);
	expect_clean_shutdown();
}

Test(reclaim, orphans_survive_a_second_restart_during_the_grace)
{
	const char *name = seg_name("twice");
	struct proto_acquire_reply a;
	int s = hold_write(name, &a), back;

	daemon_kill(SIGKILL);
	close(s);
	daemon_restart(NULL);
	daemon_kill(SIGTERM);
	daemon_restart(NULL);
	back = wire_session();
	reclaim(back, 2, &a, PROTO_OK);
	close(back);
	expect_clean_shutdown();
}

/* uid's leases as LIST_USERS counts them (0 when it is not listed), through libshmbuf. */
static uint32_t user_leases(uid_t uid)
{
	shmbuf_client *c = client_new();
	shmbuf_user_info *u = NULL;
	size_t n = 0;
	uint32_t leases = 0;

	cr_assert_eq(shmbuf_list_users(c, &u, &n, sizeof(*u)), 0);
	for (size_t i = 0; i < n; i++) {
		if (u[i].uid == uid)
			leases = u[i].leases;
	}
	shmbuf_free(u);
	shmbuf_disconnect(c);
	return leases;
}

/* Issue 11's per-user lease count: an orphan is charged to its recorded uid, a reclaimed
 * lease to the reclaiming connection's user (the same uid), a released one to nobody. */
Test(reclaim, orphans_count_against_their_uid_and_reclaimed_ones_against_the_connection)
{
	const char *name = seg_name("quota");
	struct proto_acquire_reply a;
	int s = hold_write(name, &a), back;

	cr_expect_eq(user_leases(getuid()), 1);
	daemon_kill(SIGKILL);
	close(s);
	daemon_restart(NULL);
	cr_expect_eq(user_leases(getuid()), 1, "the orphan is charged to its recorded uid");
	back = wire_session();
	reclaim(back, 2, &a, PROTO_OK);
	cr_expect_eq(user_leases(getuid()), 1, "charged once, to the reclaiming connection's user");
	wire_send_release(back, 3, a.lease_id, 0);
	wire_expect_reply(back, PROTO_OP_RELEASE, 3, PROTO_OK, NULL);
	cr_expect_eq(user_leases(getuid()), 0);
	close(back);
	expect_clean_shutdown();
}

/* A sealed segment (a memfd) does not come back, so its leases are not recorded: no orphan,
 * no grace for them, and their RECLAIM is refused; a lease beside it on a recorded segment
 * is an orphan as usual. */
Test(reclaim, leases_on_sealed_segments_do_not_become_orphans)
{
	const char *name = seg_name("plain"), *sealed_name;
	char sealed[256];
	struct proto_acquire_reply a, b;
	struct proto_msg m = { .op = PROTO_OP_CREATE, .seq = 4 };
	int s = hold_write(name, &a), back, fd;
	shmbuf_server_status st;

	snprintf(sealed, sizeof(sealed), "%s", seg_name("sealed"));
	sealed_name = sealed;
	m.u.segment.size = 8192;
	m.u.segment.mode = 0600;
	m.u.segment.flags = PROTO_CREATE_SEALED;
	snprintf(m.u.segment.name, sizeof(m.u.segment.name), "%s", sealed_name);
	wire_request(s, &m);
	wire_expect_reply(s, PROTO_OP_CREATE, 4, PROTO_OK, NULL);
	fd = wire_acquire(s, 5, sealed_name, PROTO_ACQ_WRITE, 0, &b);
	if (fd >= 0)
		close(fd);
	st = daemon_status();
	cr_expect_eq(st.write_leases, 2);
	daemon_kill(SIGKILL);
	close(s);
	daemon_restart(NULL);
	st = daemon_status();
	cr_expect_eq(st.orphans, 1, "only the recorded segment's lease is an orphan");
	cr_expect_eq(st.lost_leases, 0, "the sealed segment's lease was never recorded");
	cr_expect_eq(user_leases(getuid()), 1);
	back = wire_session();
	reclaim(back, 2, &b, PROTO_E_NOENT);
	reclaim(back, 3, &a, PROTO_OK);
	st = daemon_status();
	cr_expect_eq(st.grace_left_ms, 0, "no orphan left: the grace is over");
	/* The sealed name is free again, and nothing of the old lease is in the way. */
	wire_named(back, PROTO_OP_CREATE, 4, sealed_name, 8192);
	fd = wire_acquire(back, 5, sealed_name, PROTO_ACQ_WRITE, 0, &b);
	if (fd >= 0)
		close(fd);
	close(back);
	expect_clean_shutdown();
}
