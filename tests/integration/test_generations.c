/* SPDX-License-Identifier: MIT */
/* test_generations.c: write generations and acquire_newer against a real shmbufd: generations
 * count write leases, a consumer sees each frame once across thousands of rounds, a wait for
 * news blocks no writer, and newer waits time out, fail on destroy and shrink. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "harness.h"

TestSuite(generations, .init = daemon_setup, .fini = daemon_teardown, .timeout = 60);

#define FRAME 4096u
#define DEADLINE_MS 10000

static shmbuf_client *child_connect(void)
{
	shmbuf_client *c = NULL;

	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c) == 0);
	return c;
}

static uint64_t stat_generation(shmbuf_client *c, const char *name)
{
	shmbuf_stat_info st;

	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	return st.generation;
}

static void write_once(shmbuf_client *c, const char *name, uint64_t off, uint64_t len)
{
	shmbuf_view v;

	cr_assert_eq(shmbuf_acquire(c, name, off, len, SHMBUF_WRITE, DEADLINE_MS, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
}

Test(generations, each_ended_write_lease_is_a_generation_of_its_range)
{
	const char *name = seg_name("count");
	shmbuf_client *c = client_new();
	shmbuf_segment_info *segs;
	shmbuf_view v;
	size_t n;

	cr_assert_eq(shmbuf_create(c, name, 4 * FRAME, 0600), 0);
	cr_assert_eq(stat_generation(c, name), 0);
	write_once(c, name, 0, FRAME);           /* generation 1: frame 0 */
	write_once(c, name, 2 * FRAME, FRAME);   /* generation 2: frame 2 */
	cr_assert_eq(stat_generation(c, name), 2);
	/* Read leases do not count; a view reads the newest write over its range. */
	cr_assert_eq(shmbuf_acquire(c, name, 0, FRAME, SHMBUF_READ, 0, &v, sizeof(v)), 0);
	cr_assert_eq(v.generation, 1);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, FRAME, FRAME, SHMBUF_READ, 0, &v, sizeof(v)), 0);
	cr_assert_eq(v.generation, 0, "a range never written is generation 0");
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &v, sizeof(v)), 0);
	cr_assert_eq(v.generation, 2);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_assert_eq(stat_generation(c, name), 2);
	cr_assert_eq(shmbuf_list_segments(c, &segs, &n, sizeof(*segs)), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(segs[0].generation, 2);
	shmbuf_free(segs);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(generations, acquire_newer_returns_at_once_when_there_is_news_and_eagain_without)
{
	const char *name = seg_name("now");
	shmbuf_client *c = client_new();
	shmbuf_view v;

	cr_assert_eq(shmbuf_create(c, name, FRAME, 0600), 0);
	cr_assert_eq(shmbuf_acquire_newer(c, name, 0, 0, SHMBUF_READ, 0, 0, &v, sizeof(v)), -EAGAIN);
	write_once(c, name, 0, 0);
	cr_assert_eq(shmbuf_acquire_newer(c, name, 0, 0, SHMBUF_READ, 0, 0, &v, sizeof(v)), 0);
	cr_assert_eq(v.generation, 1);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_acquire_newer(c, name, 0, 0, SHMBUF_READ, 1, 0, &v, sizeof(v)), -EAGAIN);
	cr_assert_eq(shmbuf_acquire_newer(c, name, 0, 0, SHMBUF_READ, 1, 50, &v, sizeof(v)), -ETIMEDOUT);
	cr_assert_eq(shmbuf_acquire_newer(c, name, 0, 0, SHMBUF_WRITE | SHMBUF_READ, 0, 0, &v, sizeof(v)), -EINVAL);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- a wait for news blocks no writer ---- */

struct waiter {
	const char *name;
	uint64_t after;
	int timeout_ms;
	int result;
	uint64_t generation;
	uint8_t first_byte;
	shmbuf_client *c;
};

static void *wait_newer(void *arg)
{
	struct waiter *w = arg;
	shmbuf_view v;

	w->result = shmbuf_acquire_newer(w->c, w->name, 0, 0, SHMBUF_READ, w->after, w->timeout_ms, &v, sizeof(v));
	if (w->result == 0) {
		w->generation = v.generation;
		w->first_byte = *(const uint8_t *)v.data;
		shmbuf_release(w->c, &v, sizeof(v));
	}
	return NULL;
}

Test(generations, a_consumer_waiting_for_news_does_not_block_the_producer_it_waits_for)
{
	const char *name = seg_name("nodeadlock");
	shmbuf_client *c = client_new(), *prod = client_new();
	struct waiter w = { .name = name, .after = 0, .timeout_ms = -1, .c = c };
	shmbuf_view v;
	pthread_t t;

	cr_assert_eq(shmbuf_create(c, name, FRAME, 0600), 0);
	cr_assert_eq(pthread_create(&t, NULL, wait_newer, &w), 0);
	cr_assert_eq(wait_for_waiters(prod, name, 1, DEADLINE_MS), 0);
	/* Timeout 0: were the consumer queued ahead, this would be EBUSY. */
	cr_assert_eq(shmbuf_acquire(prod, name, 0, 0, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	memset(v.data, 0x5a, v.len);
	cr_assert_eq(shmbuf_release(prod, &v, sizeof(v)), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(w.result, 0);
	cr_assert_eq(w.generation, 1);
	cr_assert_eq(w.first_byte, 0x5a);
	shmbuf_disconnect(prod);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(generations, a_newer_wait_fails_when_its_segment_is_destroyed_or_shrunk_past_it)
{
	const char *name = seg_name("gone");
	shmbuf_client *c = client_new(), *d = client_new();
	struct waiter w = { .name = name, .after = 0, .timeout_ms = -1, .c = c };
	shmbuf_view v;
	pthread_t t;

	cr_assert_eq(shmbuf_create(d, name, 2 * FRAME, 0600), 0);
	cr_assert_eq(pthread_create(&t, NULL, wait_newer, &w), 0);
	cr_assert_eq(wait_for_waiters(d, name, 1, DEADLINE_MS), 0);
	cr_assert_eq(shmbuf_resize(d, name, FRAME), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(w.result, -ERANGE, "shrunk: %s", shmbuf_strerror(w.result));

	cr_assert_eq(pthread_create(&t, NULL, wait_newer, &w), 0);
	cr_assert_eq(wait_for_waiters(d, name, 1, DEADLINE_MS), 0);
	cr_assert_eq(shmbuf_destroy(d, name), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(w.result, -ENOENT, "destroyed: %s", shmbuf_strerror(w.result));
	(void)v;
	shmbuf_disconnect(d);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- thousands of producer rounds ---- */

#define ROUNDS 3000

struct pipeline {
	const char *frames, *acks;
	bool lockstep; /* the producer waits for the consumer's ack (through shmbuf) before the next frame */
};

/* The producer writes its round number into each frame; with acks it waits,
 * with acquire_newer on the acks segment, until the consumer has read it. */
static int produce(void *arg)
{
	struct pipeline *p = arg;
	shmbuf_client *c = child_connect();
	uint64_t acked = 0;
	shmbuf_view v;

	for (uint64_t round = 1; round <= ROUNDS; round++) {
		CHILD_CHECK(shmbuf_acquire(c, p->frames, 0, FRAME, SHMBUF_WRITE, DEADLINE_MS, &v, sizeof(v)) == 0);
		CHILD_CHECK(v.generation == round - 1);
		memcpy(v.data, &round, sizeof(round));
		CHILD_CHECK(shmbuf_release(c, &v, sizeof(v)) == 0);
		if (!p->lockstep)
			continue;
		CHILD_CHECK(shmbuf_acquire_newer(c, p->acks, 0, 0, SHMBUF_READ, acked, DEADLINE_MS, &v, sizeof(v)) == 0);
		acked = v.generation;
		CHILD_CHECK(shmbuf_release(c, &v, sizeof(v)) == 0);
	}
	shmbuf_disconnect(c);
	return 0;
}

/* Reads frames until the last round; returns how many it saw. */
static uint64_t consume(shmbuf_client *c, const struct pipeline *p)
{
	uint64_t last = 0, seen = 0, round;
	shmbuf_view v;

	while (last < ROUNDS) {
		cr_assert_eq(shmbuf_acquire_newer(c, p->frames, 0, FRAME, SHMBUF_READ, last, DEADLINE_MS, &v, sizeof(v)),
			     0, "after generation %llu", (unsigned long long)last);
		memcpy(&round, v.data, sizeof(round));
		cr_assert_gt(v.generation, last, "generation %llu seen twice", (unsigned long long)v.generation);
		cr_assert_eq(round, v.generation, "the frame's bytes are of round %llu, its generation %llu",
			     (unsigned long long)round, (unsigned long long)v.generation);
		if (p->lockstep)
			cr_assert_eq(v.generation, last + 1, "frame %llu skipped", (unsigned long long)last + 1);
		last = v.generation;
		seen++;
		cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
		if (p->lockstep)
			write_once(c, p->acks, 0, 0);
	}
	return seen;
}

static void run_pipeline(bool lockstep)
{
	struct pipeline p = { .frames = seg_name("frames"), .acks = seg_name("acks"), .lockstep = lockstep };
	shmbuf_client *c = client_new();
	uint64_t seen;
	pid_t pid;

	cr_assert_eq(shmbuf_create(c, p.frames, FRAME, 0600), 0);
	cr_assert_eq(shmbuf_create(c, p.acks, 64, 0600), 0);
	pid = child_spawn(produce, &p);
	seen = consume(c, &p);
	child_expect_exit(pid, 0);
	if (lockstep)
		cr_assert_eq(seen, ROUNDS);
	cr_assert_eq(stat_generation(c, p.frames), ROUNDS);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(generations, a_consumer_that_keeps_up_sees_every_generation_exactly_once)
{
	run_pipeline(true);
}

Test(generations, a_consumer_behind_a_free_running_producer_never_sees_a_generation_twice)
{
	run_pipeline(false);
}
