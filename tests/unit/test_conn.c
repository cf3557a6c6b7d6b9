/* SPDX-License-Identifier: MIT */
/* test_conn.c: the daemon's transport (daemon/conn.c) over a socketpair, with no server around it. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "fdio.h"

#define RX_MAX 4096

/* What the callbacks saw. */
static struct {
	int datagrams;
	uint8_t buf[RX_MAX];
	size_t len;
	int fd;
	int bad;
	int refused;
	int failed;
} seen;

static void on_datagram(struct conn *c, const uint8_t *buf, size_t len, int fd)
{
	seen.datagrams++;
	memcpy(seen.buf, buf, len);
	seen.len = len;
	seen.fd = fd;
}

static void on_bad_datagram(struct conn *c, int err)
{
	seen.bad = err;
}

static void on_fd_refused(struct conn *c, struct conn_tag tag)
{
	seen.refused++;
}

static void on_fail(struct conn *c)
{
	seen.failed++;
}

static const struct conn_ops ops = {
	.on_datagram = on_datagram,
	.on_bad_datagram = on_bad_datagram,
	.on_fd_refused = on_fd_refused,
	.on_fail = on_fail,
};

static uv_loop_t loop;
static uint8_t rxbuf[RX_MAX];
static struct conn_env env;
static struct conn *c;
static int peer = -1;

static void setup(void)
{
	int sv[2];

	memset(&seen, 0, sizeof(seen));
	seen.fd = -1;
	cr_assert_eq(uv_loop_init(&loop), 0);
	env = (struct conn_env){ .loop = &loop, .ops = &ops, .rxbuf = rxbuf, .max_message = RX_MAX,
				 .max_queue = 1024, .fd_budget = 64 };
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	peer = sv[1];
	cr_assert_eq(conn_new(&env, sv[0], NULL, &c), 0);
}

static void teardown(void)
{
	if (c)
		conn_close(c);
	uv_run(&loop, UV_RUN_DEFAULT); /* lets the close callback free c */
	uv_loop_close(&loop);
	if (peer >= 0)
		close(peer);
	if (seen.fd >= 0)
		close(seen.fd);
}

TestSuite(conn, .init = setup, .fini = teardown, .timeout = 20);

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run the loop without blocking until *count reaches want, for at most 10 s. */
static void pump_until(const int *count, int want)
{
	uint64_t deadline = now_ms() + 10000;

	while (*count < want && now_ms() < deadline)
		uv_run(&loop, UV_RUN_NOWAIT);
}

static const struct conn_tag no_tag;

Test(conn, datagram_from_the_peer_arrives_with_its_bytes_and_fd)
{
	const uint8_t msg[] = "hello, daemon";
	int pipefd[2];
	struct stat sent, got;

	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	cr_assert_eq(fdio_send(peer, msg, sizeof(msg), pipefd[0]), 0);
	pump_until(&seen.datagrams, 1);
	cr_assert_eq(seen.datagrams, 1);
	cr_assert_eq(seen.len, sizeof(msg));
	cr_assert_arr_eq(seen.buf, msg, sizeof(msg));
	cr_assert_geq(seen.fd, 0);
	cr_assert_eq(fstat(pipefd[0], &sent), 0);
	cr_assert_eq(fstat(seen.fd, &got), 0);
	cr_assert_eq(sent.st_ino, got.st_ino);
	close(pipefd[0]);
	close(pipefd[1]);
}

Test(conn, oversized_datagram_is_reported_and_reading_goes_on)
{
	static uint8_t big[RX_MAX + 100];
	const uint8_t small[] = "after";

	cr_assert_eq(fdio_send(peer, big, sizeof(big), -1), 0);
	cr_assert_eq(fdio_send(peer, small, sizeof(small), -1), 0);
	pump_until(&seen.datagrams, 1);
	cr_assert_eq(seen.bad, -EMSGSIZE);
	cr_assert_eq(seen.datagrams, 1);
	cr_assert_arr_eq(seen.buf, small, sizeof(small));
	cr_assert_not(c->is_dead);
}

/* Send numbered 1000-byte messages until one had to be queued; returns how many were sent. */
static uint32_t fill_socket(void)
{
	uint8_t buf[1000] = { 0 };
	uint32_t n = 0;

	while (c->outq_len == 0 && n < 100000) {
		memcpy(buf, &n, sizeof(n));
		cr_assert_eq(conn_send(c, buf, sizeof(buf), -1, no_tag), 0);
		n++;
	}
	cr_assert_gt(c->outq_len, 0, "the socket never filled");
	return n;
}

Test(conn, message_queued_while_the_socket_is_full_is_delivered_later_in_order)
{
	uint8_t buf[1000] = { 0 };
	uint32_t sent = fill_socket(), expect = 0;
	uint64_t deadline = now_ms() + 10000;

	/* Two more behind the first queued one. */
	for (int i = 0; i < 2; i++, sent++) {
		memcpy(buf, &sent, sizeof(sent));
		cr_assert_eq(conn_send(c, buf, sizeof(buf), -1, no_tag), 0);
	}
	cr_assert_geq(c->outq_len, 3);
	while (expect < sent && now_ms() < deadline) {
		long n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
		uint32_t got;

		if (n < 0) {
			cr_assert_eq(errno, EAGAIN);
			uv_run(&loop, UV_RUN_NOWAIT); /* the socket has room again: the queue drains */
			continue;
		}
		cr_assert_eq(n, (long)sizeof(buf));
		memcpy(&got, buf, sizeof(got));
		cr_assert_eq(got, expect, "message %u arrived where %u was due", got, expect);
		expect++;
	}
	cr_assert_eq(expect, sent);
	cr_assert_eq(c->outq_len, 0);
	cr_assert_eq(seen.failed, 0);
}

Test(conn, full_queue_fails_the_connection)
{
	uint8_t buf[1000] = { 0 };

	env.max_queue = 4;
	fill_socket();
	for (int i = 0; i < 10 && !c->is_dead; i++)
		cr_assert_eq(conn_send(c, buf, sizeof(buf), -1, no_tag), 0);
	cr_assert(c->is_dead);
	cr_assert_eq(seen.failed, 1);
	cr_assert_leq(c->outq_len, 4);
}

Test(conn, owed_messages_queue_past_the_bound_and_others_still_meet_it)
{
	uint8_t buf[1000] = { 0 };

	env.max_queue = 4;
	fill_socket();
	/* The owner bounds what it owes: 50 queue behind the full socket. */
	for (int i = 0; i < 50; i++)
		cr_assert_eq(conn_send_owed(c, buf, sizeof(buf), -1, no_tag), 0);
	cr_assert_not(c->is_dead, "owed messages never overflow the queue");
	cr_assert_eq(c->outq_owed, 50);
	/* The bound counts the others only: 4 fit (1 from fill_socket), the next fails. */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(conn_send(c, buf, sizeof(buf), -1, no_tag), 0);
	cr_assert_not(c->is_dead);
	cr_assert_eq(conn_send(c, buf, sizeof(buf), -1, no_tag), 0);
	cr_assert(c->is_dead, "a fifth message the peer is not owed passes --max-queue");
	cr_assert_eq(seen.failed, 1);
}

Test(conn, queued_fds_count_against_the_shared_budget)
{
	uint8_t buf[1000] = { 0 };

	fill_socket();
	env.fd_budget = 1;
	cr_assert_eq(conn_send(c, buf, sizeof(buf), STDIN_FILENO, no_tag), 0);
	cr_assert_eq(env.queued_fds, 1);
	cr_assert_not(c->is_dead);
	cr_assert_eq(conn_send(c, buf, sizeof(buf), STDIN_FILENO, no_tag), 0);
	cr_assert(c->is_dead, "a second queued fd passes the budget");
	conn_close(c);
	c = NULL;
	cr_assert_eq(env.queued_fds, 0);
}

Test(conn, peer_credentials_are_read)
{
	char comm[17] = "?";
	FILE *f = fopen("/proc/self/comm", "r");

	cr_assert_not_null(f);
	cr_assert_not_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	cr_assert_eq(c->cred.pid, getpid());
	cr_assert_eq(c->cred.uid, getuid());
	cr_assert_eq(c->cred.gid, getgid());
	cr_assert_str_eq(c->comm, comm);
}

Test(conn, orderly_close_by_the_peer_fails_the_connection_once)
{
	close(peer);
	peer = -1;
	pump_until(&seen.failed, 1);
	cr_assert_eq(seen.failed, 1);
	cr_assert(c->is_dead);
}
