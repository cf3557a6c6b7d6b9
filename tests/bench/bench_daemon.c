/* SPDX-License-Identifier: MIT */
/* bench_daemon.c: the restartable benchmark daemon of bench_daemon.h. */
#define _GNU_SOURCE
#include "bench_daemon.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ARGS_MAX 32

double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_die(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

void bench_daemon_init(struct bench_daemon *d, const char *prog, const char *path, const char *const *args)
{
	d->prog = prog;
	d->path = path;
	d->args = args;
	snprintf(d->dir, sizeof(d->dir), "/tmp/shmbuf-%s.XXXXXX", prog);
	if (!mkdtemp(d->dir))
		bench_die(prog, "mkdtemp");
	snprintf(d->sock_path, sizeof(d->sock_path), "%s/s.sock", d->dir);
	snprintf(d->notify_path, sizeof(d->notify_path), "%s/notify", d->dir);
}

static void exec_daemon(const struct bench_daemon *d)
{
	const char *argv[ARGS_MAX + 4] = { d->path, "--socket", d->sock_path };
	int n = 3;

	for (const char *const *a = d->args; a && *a && n < ARGS_MAX + 3; a++)
		argv[n++] = *a;
	argv[n] = NULL;
	setenv("NOTIFY_SOCKET", d->notify_path, 1);
	execv(d->path, (char *const *)argv);
	_exit(127);
}

pid_t bench_daemon_start(struct bench_daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char msg[512];
	pid_t pid;

	unlink(d->notify_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->notify_path);
	if (nfd < 0 || bind(nfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		bench_die(d->prog, "notify socket");
	pid = fork();
	if (pid < 0)
		bench_die(d->prog, "fork");
	if (pid == 0)
		exec_daemon(d);
	for (;;) {
		struct pollfd p = { .fd = nfd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 60000) <= 0)
			bench_die(d->prog, "no READY=1 within 60 s");
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

int bench_daemon_cleanup(struct bench_daemon *d)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
	return system(cmd) == 0 ? 0 : 1;
}
