/* SPDX-License-Identifier: MIT */
/* harness.h: helpers shared by the integration suites: a real shmbufd per test, child processes,
 * pipes between them, and leak checks (fds, /dev/shm objects, mappings). */
#ifndef SHMBUF_TEST_HARNESS_H
#define SHMBUF_TEST_HARNESS_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#include "shmbuf.h"

/* ---- the daemon under test ----
 *
 * Criterion runs every test in a process of its own, several at once, so each
 * test starts its own shmbufd in its own temporary directory: its own socket,
 * its own log, and (the daemon derives it from the socket path) its own
 * prefix for /dev/shm objects. Segment names therefore cannot collide between
 * tests; seg_name() still adds the test's pid so that a log or a /dev/shm
 * listing says which test a name came from. */

/* Start shmbufd with --socket and --log-level info plus extra_args (NULL-terminated,
 * may be NULL), and wait for its READY=1 on a private NOTIFY_SOCKET. Fails the test
 * when the daemon does not become ready within 10 s. */
void daemon_start(const char *const *extra_args);

/* The last call of every test. Fails the test unless this process's fds are back
 * to their count right after daemon_start() (every client disconnected, every pipe
 * closed); then stops the daemon with SIGTERM and fails the test unless it exited 0,
 * removed its socket, left no shm object of its own in /dev/shm and logged no
 * error or sanitizer report.
 *
 * This is done in the test body and not in .fini because Criterion 2.4 decides a
 * test's result before its .fini runs: a failed assertion there is printed but
 * neither fails the test nor changes the exit status. */
void expect_clean_shutdown(void);

/* .init / .fini of the suites that want a daemon with default options. The .fini
 * stops a daemon still running because the test ended early (a failed assertion),
 * kills and reaps the test's children and removes the temporary directory. */
void daemon_setup(void);
void daemon_teardown(void);

/* Stop the daemon with sig (SIGKILL: a crash) and reap it; its objects and state stay. */
void daemon_kill(int sig);
/* Start a daemon again on the same socket, directory and log (appended), after daemon_kill(). */
void daemon_restart(const char *const *extra_args);
/* The daemon's state directory (the default: "state" beside the socket). */
const char *daemon_state_dir(void);

/* harness_state.c, for daemon_stop(): unlink the daemon's objects (prefix without '/') and
 * return how many of them no state record named; remove the state directory. */
int state_remove_recorded_objects(const char *prefix);
void state_remove_dir(void);

const char *daemon_socket(void);
pid_t daemon_pid(void);

/* The daemon's /dev/shm object (e.g. "/shmbuf.1a2b3c4d.0") behind the most recent
 * segment created under name, read from its log. Returns 0 or -ENOENT. */
int daemon_shm_object(const char *name, char *out, size_t cap);

/* Whether the daemon's log so far contains needle. */
bool daemon_log_contains(const char *needle);

/* Count of fds the daemon process has open (from /proc/<pid>/fd). */
int daemon_fd_count(void);

/* Poll daemon_fd_count() until it equals want or timeout_ms passes; returns the last count. */
int daemon_fd_count_settles(int want, int timeout_ms);

/* The daemon's STATUS, through a client of its own. */
shmbuf_server_status daemon_status(void);

/* Poll fd's size (fstat) until it is want or timeout_ms passes; returns the last size seen. */
off_t fd_size_settles(int fd, off_t want, int timeout_ms);

/* A libshmbuf client connected to this test's daemon; fails the test otherwise. */
shmbuf_client *client_new(void);

/* "<tag>.<pid>": a segment name unique to this test. Points into a ring of 8 static
 * buffers, so up to 8 names may be used at once. */
const char *seg_name(const char *tag);

/* ---- child processes ----
 *
 * Code that runs in a forked child must not use cr_assert (the assertion machinery
 * belongs to the test process): it returns an exit code, and CHILD_CHECK turns a
 * failed condition into exit code 100 + a message on stderr naming the line. */

#define CHILD_CHECK(cond)                                                                               \
	do {                                                                                            \
		if (!(cond)) {                                                                          \
			fprintf(stderr, "child %d: check failed at %s:%d: %s\n", (int)getpid(), __FILE__,  \
				__LINE__, #cond);                                                       \
			_exit(100);                                                                     \
		}                                                                                       \
	} while (0)

/* Fork; the child runs fn(arg) and _exits with its return value. The child never
 * returns into Criterion. Its pid is remembered so the .fini can kill and reap it. */
pid_t child_spawn(int (*fn)(void *arg), void *arg);

/* Wait up to timeout_ms for pid to end; returns its wait status, or -ETIMEDOUT. */
int child_wait(pid_t pid, int timeout_ms);

/* Fail the test unless pid exits with code within 10 s. */
void child_expect_exit(pid_t pid, int code);

/* Fail the test unless pid is killed by signal sig within 10 s. */
void child_expect_signal(pid_t pid, int sig);

/* A one-way pipe for "I am here" and "go on" messages between processes (one byte each). */
struct chan {
	int rd, wr;
};

void chan_open(struct chan *ch);
void chan_close(struct chan *ch);
/* Both return 0 or a negative errno, so children may use them too. */
int chan_send(struct chan *ch, char byte);
/* Returns the byte received, -ETIMEDOUT after timeout_ms, -EPIPE on end of file. */
int chan_recv(struct chan *ch, int timeout_ms);

/* Poll shmbuf_stat() until the segment has exactly `waiters` waiting acquires. This
 * is the only observable signal that another process is blocked inside acquire.
 * Returns 0, -ETIMEDOUT, or the error of shmbuf_stat(). */
int wait_for_waiters(shmbuf_client *c, const char *name, uint32_t waiters, int timeout_ms);

/* ---- leak checks and memory ---- */

/* Open fds of this process. */
int fd_count(void);

/* The /proc/self/maps line covering addr: its permissions ("rw-s") and path.
 * Returns 0, or -ENOENT when addr is not mapped. */
int mapping_of(const void *addr, char perms[5], char *path, size_t cap);

/* Entries of /dev/shm whose name starts with prefix (without the leading '/'). */
int shm_count(const char *prefix);

/* A byte pattern that differs per seed and per offset, to tell views apart. */
void pattern_fill(void *p, size_t len, uint64_t start, uint8_t seed);
/* Index of the first byte that differs from the pattern, or -1 when all match. */
long pattern_mismatch(const void *p, size_t len, uint64_t start, uint8_t seed);
bool all_zero(const void *p, size_t len);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t now_ms(void);

#endif
