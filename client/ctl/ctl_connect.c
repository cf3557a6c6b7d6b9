/* SPDX-License-Identifier: MIT */
/* ctl_connect.c: shmbufctl's connection to shmbufd (the system socket tried after a user's
 * default, the answer deadline for a stopped daemon) and its error reports. */
#define _GNU_SOURCE
#include "ctl.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>
#include <ctype.h>

static char deadline_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static unsigned deadline_s;

static void on_answer_deadline(int sig)
{
	char msg[sizeof(deadline_path) + 160];
	int n = snprintf(msg, sizeof(msg),
			 "shmbufctl: shmbufd at %s did not answer within %u s (stopped, or wedged?)\n",
			 deadline_path, deadline_s);

	(void)sig;
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	_exit(EXIT_UNREACHABLE);
}

/* libshmbuf waits for a daemon that is stopped and not dead (shmbuf.h says so);
 * a debugging tool must not. */
static void arm_answer_deadline(const char *path)
{
	const char *env = getenv("SHMBUFCTL_TIMEOUT");
	char *end;
	unsigned long v;

	deadline_s = CTL_ANSWER_DEADLINE_S;
	if (env && *env) {
		errno = 0;
		v = strtoul(env, &end, 10);
		if (!errno && !*end && isdigit((unsigned char)env[0]) && v <= 86400)
			deadline_s = (unsigned)v;
	}
	snprintf(deadline_path, sizeof(deadline_path), "%s", path);
	signal(SIGALRM, on_answer_deadline);
	alarm(deadline_s); /* 0: none */
}

int ctl_connect(const struct args *a, shmbuf_client **out)
{
	const char *path = a->socket_path;
	int r;

	arm_answer_deadline(path);
	r = shmbuf_connect(path, out);
	if (r == 0 && a->may_wait)
		alarm(0);
	const char *detail;
	bool tried_system = false;

	/* As libshmbuf does for a NULL path: no per-user daemon, so try the system service. */
	if ((r == -ENOENT || r == -ECONNREFUSED) && a->socket_is_default && strcmp(path, SHMBUF_SYSTEM_SOCKET) != 0) {
		int r2 = shmbuf_connect(SHMBUF_SYSTEM_SOCKET, out);

		if (r2 == 0) {
			if (a->may_wait)
				alarm(0);
			return EXIT_OK;
		}
		if (r2 != -ENOENT && r2 != -ECONNREFUSED) {
			path = SHMBUF_SYSTEM_SOCKET;
			r = r2;
		} else {
			tried_system = true;
		}
	}
	if (r == 0)
		return EXIT_OK;
	detail = shmbuf_last_error_detail();
	switch (r) {
	case -ENOENT:
		fprintf(stderr, "shmbufctl: cannot reach shmbufd: no socket at %s\n", path);
		break;
	case -ECONNREFUSED:
		fprintf(stderr, "shmbufctl: cannot reach shmbufd at %s: nothing listens there\n", path);
		break;
	case -EACCES:
		fprintf(stderr, "shmbufctl: cannot reach shmbufd at %s: permission denied\n", path);
		fprintf(stderr, "shmbufctl: hint: the socket's owner and group (see --socket-mode of shmbufd) "
				"decide who may connect\n");
		return EXIT_UNREACHABLE;
	default:
		fprintf(stderr, "shmbufctl: cannot use shmbufd at %s: %s%s%s\n", path, shmbuf_strerror(r),
			*detail ? ": " : "", detail);
		return EXIT_UNREACHABLE;
	}
	if (tried_system)
		fprintf(stderr, "shmbufctl: nor at the system service's socket %s\n", SHMBUF_SYSTEM_SOCKET);
	/* Installed, shmbufd is on PATH; in a source checkout it is not, and run-daemon builds it. */
	fprintf(stderr, "shmbufctl: hint: is shmbufd running? Start it with 'shmbufd --socket %s'\n"
			"shmbufctl: hint: (from a source checkout: './scripts/run-daemon --socket %s'; the system\n"
			"shmbufctl: hint: service: 'systemctl start shmbufd'), or point --socket or $SHMBUF_SOCKET\n"
			"shmbufctl: hint: at the socket it listens on\n",
		path, path);
	return EXIT_UNREACHABLE;
}

/* Where libshmbuf's words are vague for a command line (ENOENT also means a
 * missing socket there), say what it means once connected. */
static const char *ctl_strerror(int err)
{
	switch (err) {
	case -ENOENT:
		return "no such segment";
	case -EEXIST:
		return "segment already exists";
	case -EBUSY:
		return "range is leased by someone else";
	case -ETIMEDOUT:
		return "timed out waiting for the lease";
	}
	return shmbuf_strerror(err);
}

/* The daemon's words name the numbers (sizes, ranges, limits) and say why a
 * wait ended; its plain "no segment named 'x'" would only repeat the message. */
static bool detail_adds_information(int err, const char *detail)
{
	static const struct {
		int err;
		const char *prefix;
	} repeats[] = {
		{ -ENOENT, "no segment named " },
		{ -EEXIST, "" },
		{ -ETIMEDOUT, "timed out waiting for a lease" },
	};

	if (!*detail)
		return false;
	for (size_t i = 0; i < sizeof(repeats) / sizeof(repeats[0]); i++)
		if (err == repeats[i].err && strncmp(detail, repeats[i].prefix, strlen(repeats[i].prefix)) == 0)
			return false;
	return true;
}

int ctl_fail(const struct args *a, const char *what, int err)
{
	const char *detail = shmbuf_last_error_detail();

	fprintf(stderr, "shmbufctl: %s: ", a->cmd);
	if (what)
		fprintf(stderr, "%s: ", what);
	fputs(ctl_strerror(err), stderr);
	if (detail_adds_information(err, detail))
		fprintf(stderr, ": %s", detail);
	fputc('\n', stderr);
	return err == -ECONNRESET ? EXIT_UNREACHABLE : EXIT_FAILED;
}

int ctl_failf(const struct args *a, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "shmbufctl: %s: ", a->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAILED;
}
