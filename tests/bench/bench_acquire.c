/* SPDX-License-Identifier: MIT */
/* bench_acquire.c: what an acquire/release costs, against baselines measured in the same run:
 * a bare SOCK_SEQPACKET round trip between two processes (the floor for any request the
 * daemon answers) and copying the payload (what zero-copy avoids). Prints figures; asserts nothing. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmbuf.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Mean seconds per round trip of a 16-byte datagram echoed by a child process. */
static double seqpacket_round_trip(int iters)
{
	char buf[16] = { 0 };
	int sv[2];
	pid_t pid;
	double t0, t;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		while (read(sv[1], buf, sizeof(buf)) > 0)
			if (write(sv[1], buf, sizeof(buf)) < 0)
				break;
		_exit(0);
	}
	close(sv[1]);
	t0 = now_s();
	for (int i = 0; i < iters; i++)
		if (write(sv[0], buf, sizeof(buf)) < 0 || read(sv[0], buf, sizeof(buf)) <= 0)
			return -1;
	t = (now_s() - t0) / iters;
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return t;
}

static pid_t start_daemon(const char *daemon, const char *sock)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl(daemon, daemon, "--socket", sock, "--log-level", "error", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static shmbuf_client *connect_retry(const char *sock)
{
	shmbuf_client *c = NULL;

	for (int i = 0; i < 500; i++) {
		if (shmbuf_connect(sock, &c) == 0)
			return c;
		usleep(10000); /* a benchmark's start-up, not a test's synchronisation */
	}
	return NULL;
}

static double acquire_release(shmbuf_client *c, const char *name, uint64_t len, unsigned flags, int iters)
{
	shmbuf_view v;
	double t0 = now_s();

	for (int i = 0; i < iters; i++) {
		if (shmbuf_acquire(c, name, 0, len, flags, 0, &v, sizeof(v)) < 0)
			return -1;
		((volatile char *)v.data)[0];
		if (shmbuf_release(c, &v, sizeof(v)) < 0)
			return -1;
	}
	return (now_s() - t0) / iters;
}

static double copy_bytes(size_t len, int iters)
{
	char *a = malloc(len), *b = malloc(len);
	double t0, t;

	if (!a || !b)
		return -1;
	memset(a, 1, len);
	memset(b, 2, len); /* fault both in before timing */
	t0 = now_s();
	for (int i = 0; i < iters; i++) {
		memcpy(b, a, len);
		__asm__ volatile("" ::"r"(b) : "memory");
	}
	t = (now_s() - t0) / iters;
	free(a);
	free(b);
	return t;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: bench_acquire [SHMBUFD [ITERATIONS]]\n"
		       "Starts SHMBUFD (default %s) on a private socket and prints what an acquire+release\n"
		       "costs by view size, against a bare SOCK_SEQPACKET round trip and a copy of the bytes.\n"
		       "ITERATIONS defaults to 20000. The full benchmark of issue 8 is shmbuf_bench (./scripts/bench).\n",
		       SHMBUFD_PATH);
		return 0;
	}
	const char *daemon = argc > 1 && argv[1][0] ? argv[1] : SHMBUFD_PATH;
	const int iters = argc > 2 ? atoi(argv[2]) : 20000;
	char dir[] = "/tmp/shmbuf-bench.XXXXXX", sock[128];
	static const uint64_t sizes[] = { 4096, 1 << 20, 64 << 20 };
	shmbuf_client *c;
	double rt, t;
	pid_t pid;
	int status = 0;

	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/bench.sock", dir);
	pid = start_daemon(daemon, sock);
	c = connect_retry(sock);
	if (!c) {
		fprintf(stderr, "bench: cannot reach %s started from %s\n", sock, daemon);
		kill(pid, SIGTERM);
		return 1;
	}
	rt = seqpacket_round_trip(iters);
	printf("baseline: SOCK_SEQPACKET round trip between two processes: %.2f us\n", rt * 1e6);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char name[32];
		int n = sizes[i] >= (64 << 20) ? iters / 10 : iters;

		snprintf(name, sizeof(name), "bench.%zu", i);
		if (shmbuf_create(c, name, sizes[i], 0600) < 0) {
			fprintf(stderr, "bench: create %s failed\n", name);
			status = 1;
			break;
		}
		for (int w = 0; w < 2; w++) {
			unsigned flags = w ? SHMBUF_WRITE : SHMBUF_READ;

			double copy = copy_bytes(sizes[i], sizes[i] >= (64 << 20) ? 20 : 2000);

			t = acquire_release(c, name, sizes[i], flags, n);
			if (t < 0 || copy < 0) {
				fprintf(stderr, "bench: acquire/release of %s failed\n", name);
				status = 1;
				break;
			}
			printf("acquire+release %-5s %9llu bytes: %8.2f us = %5.2f round trips; "
			       "copying the bytes once: %9.2f us (%.1fx the acquire)\n",
			       w ? "write" : "read", (unsigned long long)sizes[i], t * 1e6, t / rt, copy * 1e6,
			       copy / t);
		}
		shmbuf_destroy(c, name);
	}
	shmbuf_disconnect(c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	rmdir(dir);
	return status;
}
