/* SPDX-License-Identifier: MIT */
/* service_harness.h: helpers of the service suites: a temporary directory per test, child
 * processes with a systemd-like environment, shell commands, and a notify socket to listen on. */
#ifndef SHMBUF_TEST_SERVICE_HARNESS_H
#define SHMBUF_TEST_SERVICE_HARNESS_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WAIT_MS 10000 /* readiness, exit: generous, the machine may be busy */

/* .init and .fini of every suite: make the test's temporary directory; kill and reap the
 * processes the test started and remove the directory. */
void svc_setup(void);
void svc_teardown(void);

/* Skip the test. Criterion 2.4 runs no .fini after cr_skip_test(), so clean up first. */
#define svc_skip(...)                                                                                    \
	do {                                                                                             \
		svc_teardown();                                                                          \
		cr_skip_test(__VA_ARGS__);                                                               \
	} while (0)

/* CLOCK_MONOTONIC in milliseconds. */
int64_t now_ms(void);

/* A path inside the test's directory. Never freed: each test is a process of its own. */
const char *in_dir(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The whole file, NUL-terminated (free it), or NULL. */
char *read_file(const char *path);
void write_file(const char *path, const char *text);
bool file_contains(const char *path, const char *needle);
/* The output of a command that ran with log as its output file; fails the test if unreadable. */
char *output_of(const char *log);

/* ---- child processes ---- */

struct spawn_opts {
	const char *const *env; /* NAME=value entries, NULL-terminated; may be NULL */
	const char *log;        /* stdout and stderr go here (appended); NULL: inherited */
	int stderr_fd;          /* when >= 0 (and no log): the child's stderr */
	bool journal;           /* JOURNAL_STREAM names the child's stderr, as systemd does */
	bool watchdog_pid_self; /* WATCHDOG_PID is the child's own pid, as systemd sets it */
	int listen_fd;          /* when > 0: the child's fd 3, with LISTEN_FDS=1 and LISTEN_PID its pid
				 * (LISTEN_FDNAMES from env), as systemd passes its fd store */
};

/* Start argv[0] (searched in $PATH) in the environment of the test, cleared of the variables
 * systemd sets and of SHMBUFD_*, plus opts->env. The child is killed in .fini if still there. */
pid_t spawn(const char *const argv[], const struct spawn_opts *opts);
/* The wait status of pid once it exits, or -ETIMEDOUT. */
int wait_exit(pid_t pid, int timeout_ms);
/* Fail unless pid exits with code within WAIT_MS. */
void expect_exit(pid_t pid, int code);

/* Run a shell command with stdout and stderr appended to log; its exit status (128 + signal
 * when killed, -ETIMEDOUT after 55 s). The commands are the tests' own, from their own paths. */
int sh(const char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fail unless the command exits 0; the failure message carries its output. */
#define expect_sh(log, ...)                                                                              \
	do {                                                                                             \
		int rc_ = sh(log, __VA_ARGS__);                                                          \
		if (rc_ != 0) {                                                                          \
			char *out_ = read_file(log);                                                     \
			cr_assert_fail("command failed (%d):\n%s", rc_, out_ ? out_ : "");              \
		}                                                                                        \
	} while (0)
bool have_program(const char *name);

/* ---- the notify socket (what systemd listens on) ---- */

/* A bound AF_UNIX SOCK_DGRAM socket at path. */
int notify_listen(const char *path);
/* The value of the line "key=..." in a notify message, or NULL. */
const char *notify_field(const char *msg, const char *key);
/* Read messages into buf until one has key (with a value starting with want, when not NULL);
 * false when none came within timeout_ms. */
bool notify_wait(int fd, const char *key, const char *want, char *buf, size_t cap, int timeout_ms);

/* ---- the daemon ---- */

/* Wait until a socket file exists at path (started by a program that tells nothing). */
void wait_for_socket_file(const char *path);
/* Start the shmbufd at path on socket_path with --log-level info, a notify socket, WATCHDOG_PID
 * set to itself and env; wait for READY=1, whose message is copied to first. */
pid_t start_daemon(const char *path, const char *socket_path, const char *const *env, int *notify_fd,
		   char *first, size_t cap);

#endif
