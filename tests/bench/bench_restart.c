/* SPDX-License-Identifier: MIT */
/* bench_restart: what segments surviving a restart cost (issue 10). Creates N segments (the
 * state record is rewritten at each), kills the daemon with SIGKILL, starts it again on the
 * same socket and times it until READY=1 (every segment adopted), then checks they are all
 * there. Run: build/tests/bench/bench_restart [SHMBUFD [SEGMENTS...]]. Not a test: it prints. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_daemon.h"
#include "shmbuf.h"

static const char *const daemon_args[] = { "--log-level", "warning", "--max-segments", "8192", NULL };
static struct bench_daemon bd;

static void die(const char *what)
{
	bench_die("bench_restart", what);
}

static void run(int n)
{
	shmbuf_client *c;
	shmbuf_segment_info *segs;
	size_t count;
	char name[64];
	double t0, t_create, t_ready;
	pid_t pid = bench_daemon_start(&bd);

	if (shmbuf_connect(bd.sock_path, &c) < 0)
		die("connect");
	t0 = bench_now_s();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "bench/%d", i);
		if (shmbuf_create(c, name, 4096, 0600) < 0)
			die("create");
	}
	t_create = bench_now_s() - t0;
	shmbuf_disconnect(c);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	t0 = bench_now_s();
	pid = bench_daemon_start(&bd);
	t_ready = bench_now_s() - t0;
	if (shmbuf_connect(bd.sock_path, &c) < 0 || shmbuf_list_segments(c, &segs, &count, sizeof(*segs)) < 0)
		die("list");
	printf("%6d segments: create %8.1f us each (state record included); kill -9, restart, "
	       "ready with all adopted in %7.1f ms; %zu listed\n",
	       n, t_create / n * 1e6, t_ready * 1e3, count);
	shmbuf_free(segs);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "bench/%d", i);
		shmbuf_destroy(c, name);
	}
	shmbuf_disconnect(c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
	const char *daemon = argc > 1 ? argv[1] : SHMBUFD_PATH;

	bench_daemon_init(&bd, "bench_restart", daemon, daemon_args);
	if (argc > 2) {
		for (int i = 2; i < argc; i++)
			run(atoi(argv[i]));
	} else {
		run(100);
		run(1000);
		run(4096);
	}
	return bench_daemon_cleanup(&bd);
}
