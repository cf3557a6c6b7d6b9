/* SPDX-License-Identifier: MIT */
/* proc.h: running a program as a test's child process: its stdin fed from a buffer, its stdout
 * and stderr collected, its end waited for with a deadline. The child is started with
 * child_spawn() (harness.h), so a test that fails early leaves no process behind. */
#ifndef SHMBUF_TEST_PROC_H
#define SHMBUF_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How long proc_finish() waits before it calls the program hung and fails the test. */
#define PROC_TIMEOUT_MS 10000

struct proc_buf {
	char *p; /* always NUL-terminated */
	size_t len, cap;
};

/* One program and the test's ends of its stdin, stdout and stderr. */
struct proc {
	pid_t pid;
	int in, out, err; /* -1 once closed */
	const uint8_t *input;
	size_t input_len, input_off;
	struct proc_buf o, e; /* stdout and stderr so far */
	int status;           /* wait status, once finished */
	char name[64];        /* argv[0], for messages */
};

/* Start argv[0] with the arguments argv (NULL-terminated, argv[0] included). env is NULL or a
 * NULL-terminated list of "NAME=value" (set) and "NAME" (unset) applied in the child. input
 * (input_len bytes, may be NULL) is fed to its stdin, which is closed once it is written (at
 * once without input). The program starts with default SIGINT, SIGTERM and SIGPIPE and no
 * blocked signal, as from a shell. Fails the test when the pipes cannot be made. */
void proc_spawn(struct proc *p, const char *const *argv, const char *const *env, const void *input,
		size_t input_len);

/* One round of moving bytes, waiting up to timeout_ms: input to stdin, stdout and stderr into
 * p->o and p->e. */
void proc_pump(struct proc *p, int timeout_ms);

/* Pump until stdout holds needle; false after timeout_ms or when the output ends without it. */
bool proc_wait_output(struct proc *p, const char *needle, int timeout_ms);

/* Read everything until the program exits; returns its exit code, or 128 + the signal that
 * killed it. Kills it and fails the test when it still runs after PROC_TIMEOUT_MS. */
int proc_finish(struct proc *p);

/* Close what is left open and free the collected output. */
void proc_free(struct proc *p);

#endif
