/* SPDX-License-Identifier: MIT */
/* test_reconnect.c: libshmbuf reconnects by itself when shmbufd is killed and started again
 * (issue 10): views and their leases survive, a writer keeps its range, a release after the
 * restart returns 0, an acquire waiting across the restart is granted after it, a release the
 * dead daemon never read is done again, every client back ends the grace at once, a segment
 * that did not come back gives -ESTALE, and SHMBUF_RECONNECT=0 keeps the old -ECONNRESET. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

TestSuite(reconnect, .init = daemon_setup, .fini = daemon_teardown, .timeout = 60);

Test(reconnect, a_writer_keeps_its_lease_and_bytes_across_a_kill)
{
	const char *name = seg_name("writer");
	shmbuf_client *w = client_new(), *other;
	shmbuf_view v, o;
	shmbuf_stat_info st;
	shmbuf_server_status s;

	cr_assert_eq(shmbuf_create(w, name, 8192, 0600), 0);
	cr_assert_eq(shmbuf_acquire(w, name, 0, 8192, SHMBUF_WRITE, 5000, &v, sizeof(v)), 0);
	pattern_fill(v.data, v.len, 0, 3);
	daemon_kill(SIGKILL);
	daemon_restart(NULL);
	/* The same client, no error: it reconnects and reclaims its write lease. */
	cr_assert_eq(shmbuf_stat(w, name, &st, sizeof(st)), 0);
	cr_expect_eq(shmbuf_reconnects(w), 1);
	cr_expect_eq(pattern_mismatch(v.data, v.len, 0, 3), -1, "the bytes are there");
	s = daemon_status();
	cr_expect_eq(s.reclaimed_leases, 1);
	cr_expect_eq(s.grace_left_ms, 0, "every lease is back: no grace left");
	other = client_new();
	cr_expect_eq(shmbuf_acquire(other, name, 0, 4096, SHMBUF_WRITE, 0, &o, sizeof(o)), -EBUSY,
		     "the writer keeps its range");
	cr_assert_eq(shmbuf_release(w, &v, sizeof(v)), 0, "a release after the restart returns 0");
	cr_assert_eq(shmbuf_acquire(other, name, 0, 8192, SHMBUF_READ, 5000, &o, sizeof(o)), 0);
	cr_expect_eq(pattern_mismatch(o.data, o.len, 0, 3), -1);
	cr_assert_eq(shmbuf_release(other, &o, sizeof(o)), 0);
	shmbuf_disconnect(other);
	cr_assert_eq(shmbuf_destroy(w, name), 0);
	shmbuf_disconnect(w);
	expect_clean_shutdown();
}

static char wait_name[300]; /* seg_name() in a child would name the child's pid */

/* A child whose acquire waits (behind the parent's write lease) across the restart. */
static int wait_across(void *arg)
{
	struct chan *ch = arg;
	shmbuf_client *c;
	shmbuf_view v;
	int r;

	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c) == 0);
	CHILD_CHECK(chan_send(ch, 'c') == 0);
	r = shmbuf_acquire(c, wait_name, 0, 4096, SHMBUF_WRITE, 20000, &v, sizeof(v));
	if (r != 0) {
		fprintf(stderr, "child: acquire: %s\n", strerror(-r));
		return 1;
	}
	CHILD_CHECK(shmbuf_reconnects(c) == 1);
	CHILD_CHECK(shmbuf_release(c, &v, sizeof(v)) == 0);
	shmbuf_disconnect(c);
	return 0;
}

Test(reconnect, an_acquire_waiting_across_the_restart_is_granted_after_it)
{
	shmbuf_client *h = client_new();
	struct chan ch;
	shmbuf_view v;
	pid_t child;

	snprintf(wait_name, sizeof(wait_name), "%s", seg_name("wait"));
	cr_assert_eq(shmbuf_create(h, wait_name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(h, wait_name, 0, 4096, SHMBUF_WRITE, 5000, &v, sizeof(v)), 0);
	chan_open(&ch);
	child = child_spawn(wait_across, &ch);
	cr_assert_eq(chan_recv(&ch, 5000), 'c');
	cr_assert_eq(wait_for_waiters(h, wait_name, 1, 5000), 0);
	daemon_kill(SIGKILL);
	daemon_restart(NULL);
	/* The holder reconnects (its lease reclaimed), then lets go: the re-sent wait is granted. */
	cr_assert_eq(wait_for_waiters(h, wait_name, 1, 5000), 0, "the child's acquire waits again");
	cr_assert_eq(shmbuf_release(h, &v, sizeof(v)), 0);
	child_expect_exit(child, 0);
	chan_close(&ch);
	shmbuf_disconnect(h);
	expect_clean_shutdown();
}

/* A child whose acquire with a 1.5 s timeout waits across the restart: it times out on time. */
static int time_out_across(void *arg)
{
	struct chan *ch = arg;
	shmbuf_client *c;
	shmbuf_view v;
	int64_t t0;
	int r;

	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c) == 0);
	CHILD_CHECK(chan_send(ch, 'c') == 0);
	t0 = now_ms();
	r = shmbuf_acquire(c, wait_name, 0, 4096, SHMBUF_WRITE, 1500, &v, sizeof(v));
	if (r != -ETIMEDOUT || now_ms() - t0 > 2700) {
		fprintf(stderr, "child: %s after %lld ms\n", strerror(-r), (long long)(now_ms() - t0));
		return 1;
	}
	shmbuf_disconnect(c);
	return 0;
}

Test(reconnect, a_wait_sent_again_keeps_its_own_timeout)
{
	shmbuf_client *h = client_new();
	struct chan ch;
	shmbuf_view v;
	shmbuf_stat_info st;
	pid_t child;

	snprintf(wait_name, sizeof(wait_name), "%s", seg_name("timeout"));
	cr_assert_eq(shmbuf_create(h, wait_name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(h, wait_name, 0, 4096, SHMBUF_WRITE, 5000, &v, sizeof(v)), 0);
	chan_open(&ch);
	child = child_spawn(time_out_across, &ch);
	cr_assert_eq(chan_recv(&ch, 5000), 'c');
	cr_assert_eq(wait_for_waiters(h, wait_name, 1, 5000), 0);
	daemon_kill(SIGKILL);
	daemon_restart(NULL);
	cr_assert_eq(shmbuf_stat(h, wait_name, &st, sizeof(st)), 0); /* the holder keeps its lease */
	child_expect_exit(child, 0);
	chan_close(&ch);
	cr_assert_eq(shmbuf_release(h, &v, sizeof(v)), 0);
	shmbuf_disconnect(h);
	expect_clean_shutdown();
}

Test(reconnect, a_release_the_dead_daemon_may_not_have_read_is_done_again)
{
	const char *name = seg_name("relog");
	shmbuf_client *c = client_new(), *other;
	shmbuf_view v;
	shmbuf_stat_info st;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 4096, SHMBUF_WRITE, 5000, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0); /* quiet: maybe never read */
	daemon_kill(SIGKILL);
	daemon_restart(NULL); /* grace 10 s: only the redone release frees the range in time */
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	other = client_new();
	cr_expect_eq(shmbuf_acquire(other, name, 0, 4096, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	cr_expect_eq(shmbuf_release(other, &v, sizeof(v)), 0);
	shmbuf_disconnect(other);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(reconnect, a_view_whose_segment_did_not_come_back_is_stale)
{
	const char *name = seg_name("gone");
	shmbuf_client *c = client_new();
	shmbuf_stat_info st;
	shmbuf_view v;
	uint8_t *p;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 4096, SHMBUF_WRITE, 5000, &v, sizeof(v)), 0);
	p = v.data;
	daemon_kill(SIGKILL);
	daemon_restart((const char *const[]){ "--fresh", NULL });
	cr_expect_eq(shmbuf_stat(c, name, &st, sizeof(st)), -ENOENT);
	p[0] = 1; /* still mapped until released */
	cr_expect_eq(shmbuf_release(c, &v, sizeof(v)), -ESTALE);
	cr_expect_eq(shmbuf_reconnects(c), 1);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(reconnect, reconnecting_can_be_turned_off)
{
	const char *name = seg_name("off");
	shmbuf_client *c;
	shmbuf_stat_info st;

	setenv("SHMBUF_RECONNECT", "0", 1);
	c = client_new();
	unsetenv("SHMBUF_RECONNECT");
	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	daemon_kill(SIGKILL);
	daemon_restart(NULL);
	cr_expect_eq(shmbuf_stat(c, name, &st, sizeof(st)), -ECONNRESET);
	cr_expect_eq(shmbuf_reconnects(c), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}
