/* SPDX-License-Identifier: MIT */
/* bench_daemon.h: a shmbufd that a benchmark kills and starts again on the same socket
 * (bench_restart, bench_reclaim): a temporary directory for its socket, its state and a private
 * NOTIFY_SOCKET, and READY=1 waited for at every start. Failures print and exit(1). */
#ifndef SHMBUF_BENCH_DAEMON_H
#define SHMBUF_BENCH_DAEMON_H

#include <sys/types.h>

struct bench_daemon {
	const char *prog;        /* the benchmark's name, for messages */
	const char *path;        /* the shmbufd binary */
	const char *const *args; /* its arguments after --socket PATH, NULL-terminated */
	char dir[64];            /* temporary: the socket, the notify socket, the state */
	char sock_path[96];
	char notify_path[96];
};

/* Make d's temporary directory; prog, path and args are kept (not copied). */
void bench_daemon_init(struct bench_daemon *d, const char *prog, const char *path, const char *const *args);
/* Start the daemon and wait up to 60 s for its READY=1; its pid. */
pid_t bench_daemon_start(struct bench_daemon *d);
/* Remove the temporary directory. 0, or 1 when that failed. */
int bench_daemon_cleanup(struct bench_daemon *d);

/* Print "prog: what: strerror(errno)" and exit(1). */
void bench_die(const char *prog, const char *what) __attribute__((noreturn));
/* CLOCK_MONOTONIC, in seconds. */
double bench_now_s(void);

#endif
