/* SPDX-License-Identifier: MIT */
/* bench_restart: what segments surviving a restart cost (issue 10). Creates N segments (the
 * state record is rewritten at each), kills the daemon with SIGKILL, starts it again on the
 * same socket and times it until READY=1 (every segment adopted), then checks they are all
 * there. Run: build/tests/bench/bench_restart [SHMBUFD [SEGMENTS...]]. Not a test: it prints. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmbuf.h"

static char dir[] = "/tmp/shmbuf-bench-restart.XXXXXX";
static char sock_path[96], notify_path[96];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_restart: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Start the daemon and wait for READY=1; its pid. */
static pid_t start(const char *daemon)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char msg[512];
	pid_t pid;

	unlink(notify_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", notify_path);
	if (nfd < 0 || bind(nfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("notify socket");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		setenv("NOTIFY_SOCKET", notify_path, 1);
		execl(daemon, daemon, "--socket", sock_path, "--log-level", "warning", "--max-segments", "8192",
		      (char *)NULL);
		_exit(127);
	}
	for (;;) {
		struct pollfd p = { .fd = nfd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 60000) <= 0)
			die("no READY=1 within 60 s");
		n = recv(nfd, msg, sizeof(msg) - 1, 0);
		if (n > 0) {
			msg[n] = '\0';
			if (strstr(msg, "READY=1"))
				break;
		}
	}
	close(nfd);
	return pid;
}

static void run(const char *daemon, int n)
{
	shmbuf_client *c;
	shmbuf_segment_info *segs;
	size_t count;
	char name[64];
	double t0, t_create, t_ready;
	pid_t pid = start(daemon);

	if (shmbuf_connect(sock_path, &c) < 0)
		die("connect");
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "bench/%d", i);
		if (shmbuf_create(c, name, 4096, 0600) < 0)
			die("create");
	}
	t_create = now_s() - t0;
	shmbuf_disconnect(c);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	t0 = now_s();
	pid = start(daemon);
	t_ready = now_s() - t0;
	if (shmbuf_connect(sock_path, &c) < 0 || shmbuf_list_segments(c, &segs, &count, sizeof(*segs)) < 0)
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
	char cmd[160];

	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(sock_path, sizeof(sock_path), "%s/s.sock", dir);
	snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
	if (argc > 2) {
		for (int i = 2; i < argc; i++)
			run(daemon, atoi(argv[i]));
	} else {
		run(daemon, 100);
		run(daemon, 1000);
		run(daemon, 4096);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
