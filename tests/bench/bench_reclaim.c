/* SPDX-License-Identifier: MIT */
/* bench_reclaim: leases surviving a restart (issue 10): C clients hold L leases over S segments
 * (READ, so they never conflict), the daemon is killed with SIGKILL and started again, and every
 * client makes one call in a thread of its own: libshmbuf reconnects and RECLAIMs its views.
 * Prints the time from READY=1 until the last client is back with every lease, and what STATUS
 * says then (no orphan left, so no grace). Target (issue 10): under 1 s for 1000 segments and
 * 10k leases. Run: build/tests/bench/bench_reclaim [SHMBUFD [SEGMENTS LEASES CLIENTS]]. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_daemon.h"
#include "shmbuf.h"

static const char *const daemon_args[] = { "--log-level", "warning", "--max-segments", "8192", "--max-leases", "65536", NULL };
static struct bench_daemon bd;

static void die(const char *what)
{
	bench_die("bench_reclaim", what);
}

struct holder {
	shmbuf_client *c;
	shmbuf_view *views;
	int n;
	double done_s;
	int err;
};

static void *come_back(void *arg)
{
	struct holder *h = arg;
	shmbuf_stat_info st;

	h->err = shmbuf_stat(h->c, "bench/0", &st, sizeof(st)); /* reconnects, reclaims */
	h->done_s = bench_now_s();
	return NULL;
}

/* A holder client with per READ leases, from the first-th lease on, over segs segments. */
static void hold(struct holder *h, int first, int per, int segs)
{
	char name[64];

	h->views = calloc((size_t)per, sizeof(shmbuf_view));
	if (!h->views || shmbuf_connect(bd.sock_path, &h->c) < 0)
		die("connect a holder");
	for (int i = 0; i < per; i++, h->n++) {
		snprintf(name, sizeof(name), "bench/%d", (first + i) % segs);
		if (shmbuf_acquire(h->c, name, 0, 4096, SHMBUF_READ, 5000, &h->views[i], sizeof(shmbuf_view)) < 0)
			die("acquire");
	}
}

static void run(int segs, int leases, int clients)
{
	struct holder *h = calloc((size_t)clients, sizeof(*h));
	pthread_t *th = calloc((size_t)clients, sizeof(*th));
	shmbuf_server_status st;
	shmbuf_client *c;
	char name[64];
	double t0, t_ready, last = 0;
	pid_t pid = bench_daemon_start(&bd);
	int per = leases / clients;

	if (!h || !th || shmbuf_connect(bd.sock_path, &c) < 0)
		die("connect");
	for (int i = 0; i < segs; i++) {
		snprintf(name, sizeof(name), "bench/%d", i);
		if (shmbuf_create(c, name, 4096, 0600) < 0)
			die("create");
	}
	for (int k = 0; k < clients; k++)
		hold(&h[k], k * per, per, segs);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	t0 = bench_now_s();
	pid = bench_daemon_start(&bd);
	t_ready = bench_now_s();
	for (int k = 0; k < clients; k++)
		pthread_create(&th[k], NULL, come_back, &h[k]);
	for (int k = 0; k < clients; k++) {
		pthread_join(th[k], NULL);
		if (h[k].err < 0 || shmbuf_reconnects(h[k].c) != 1)
			fprintf(stderr, "bench_reclaim: holder %d: %s, %llu reconnects\n", k, shmbuf_strerror(h[k].err),
				(unsigned long long)shmbuf_reconnects(h[k].c));
		if (h[k].done_s > last)
			last = h[k].done_s;
	}
	shmbuf_disconnect(c);
	if (shmbuf_connect(bd.sock_path, &c) < 0 || shmbuf_server_status_get(c, &st, sizeof(st)) < 0)
		die("status");
	printf("%5d segments, %6d leases, %3d clients: kill -9, restart, READY in %6.1f ms; every lease "
	       "reclaimed %6.1f ms after READY (%u reclaimed, %u orphans left, grace %s)\n",
	       segs, clients * per, clients, (t_ready - t0) * 1e3, (last - t_ready) * 1e3, st.reclaimed_leases,
	       st.orphans, st.grace_left_ms ? "still on" : "over");
	for (int k = 0; k < clients; k++) {
		for (int i = 0; i < h[k].n; i++)
			shmbuf_release(h[k].c, &h[k].views[i], sizeof(shmbuf_view));
		shmbuf_disconnect(h[k].c);
		free(h[k].views);
	}
	for (int i = 0; i < segs; i++) {
		snprintf(name, sizeof(name), "bench/%d", i);
		shmbuf_destroy(c, name);
	}
	shmbuf_disconnect(c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	free(h);
	free(th);
}

int main(int argc, char **argv)
{
	const char *daemon = argc > 1 ? argv[1] : SHMBUFD_PATH;
	struct rlimit rl;

	/* Every view pins its segment's fd in its client: 10k leases, 10k fds. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	bench_daemon_init(&bd, "bench_reclaim", daemon, daemon_args);
	if (argc > 4)
		run(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	else
		run(1000, 10000, 10);
	return bench_daemon_cleanup(&bd);
}
