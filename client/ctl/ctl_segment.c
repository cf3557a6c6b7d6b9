/* SPDX-License-Identifier: MIT */
/* ctl_segment.c: shmbufctl's commands that change segments or touch their bytes:
 * create, destroy, resize, read, write and hold. */
#define _GNU_SOURCE
#include "ctl.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "size.h"

/* Default permission bits of `create`: the creator writes, its group reads. */
#define CREATE_MODE_DEFAULT 0640

/* A SIZE argument; a bad one is a usage error. */
static int parse_size_arg(const struct args *a, const char *what, const char *s, uint64_t *out)
{
	int r = size_parse(s, out);

	if (r == 0)
		return 0;
	fprintf(stderr, "shmbufctl: %s: %s: '%s' is %s\nTry 'shmbufctl %s --help'.\n", a->cmd, what, s,
		r == -ERANGE ? "too large" : "not a size (e.g. 4096, 4K, 64M, 1G)", a->cmd);
	return EXIT_USAGE;
}

int cmd_create(const struct args *a)
{
	const char *name = a->pos[0];
	shmbuf_client *c;
	uint64_t size;
	int r, rc;

	rc = parse_size_arg(a, "SIZE", a->pos[1], &size);
	if (rc)
		return rc;
	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	r = shmbuf_create(c, name, size, (a->has_mode ? a->mode : CREATE_MODE_DEFAULT) | (a->sealed ? SHMBUF_SEALED : 0));
	rc = r < 0 ? ctl_fail(a, name, r) : EXIT_OK;
	shmbuf_disconnect(c);
	return rc;
}

int cmd_destroy(const struct args *a)
{
	const char *name = a->pos[0];
	shmbuf_client *c;
	int r, rc;

	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	r = shmbuf_destroy(c, name);
	rc = r < 0 ? ctl_fail(a, name, r) : EXIT_OK;
	shmbuf_disconnect(c);
	return rc;
}

int cmd_resize(const struct args *a)
{
	const char *name = a->pos[0];
	shmbuf_client *c;
	uint64_t size;
	int r, rc;

	rc = parse_size_arg(a, "SIZE", a->pos[1], &size);
	if (rc)
		return rc;
	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	r = shmbuf_resize(c, name, size);
	rc = r < 0 ? ctl_fail(a, name, r) : EXIT_OK;
	shmbuf_disconnect(c);
	return rc;
}

/* ---- read ---- */

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* read's lease: plain, or with --wait-newer a wait for a write after GEN
 * (default: after the segment's current generation, i.e. the next write). */
static int read_acquire(const struct args *a, shmbuf_client *c, const char *name, shmbuf_view *v)
{
	uint64_t length = a->has_length ? a->length : 0, after = a->newer_after;
	shmbuf_stat_info st;
	int r;

	if (!a->wait_newer)
		return shmbuf_acquire(c, name, a->offset, length, SHMBUF_READ, a->wait_ms, v, sizeof(*v));
	if (!a->has_newer_after) {
		r = shmbuf_stat(c, name, &st, sizeof(st));
		if (r < 0)
			return r;
		after = st.generation;
	}
	return shmbuf_acquire_newer(c, name, a->offset, length, SHMBUF_READ, after, a->has_wait ? a->wait_ms : -1,
				    v, sizeof(*v));
}

int cmd_read(const struct args *a)
{
	const char *name = a->pos[0];
	bool hex = a->hex || (!a->raw && isatty(STDOUT_FILENO));
	shmbuf_client *c;
	shmbuf_view v;
	int r, rc;

	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	r = read_acquire(a, c, name, &v);
	if (r < 0) {
		rc = ctl_fail(a, name, r);
		goto out;
	}
	if (hex) {
		hexdump(stdout, v.data, v.len, v.offset);
		r = fflush(stdout) == 0 && !ferror(stdout) ? 0 : -errno;
	} else {
		r = write_all(STDOUT_FILENO, v.data, v.len);
	}
	if (r < 0)
		rc = ctl_failf(a, "cannot write to standard output: %s", strerror(-r));
	r = shmbuf_release(c, &v, sizeof(v));
	if (r < 0 && rc == EXIT_OK)
		rc = ctl_fail(a, name, r);
out:
	shmbuf_disconnect(c);
	return rc;
}

/* ---- write ---- */

/* Read standard input to its end, or until more than limit bytes came (*too_long).
 * Returns 0 or a negative errno; *out is malloc'ed. */
static int read_input(uint64_t limit, uint8_t **out, size_t *len, bool *too_long)
{
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	*too_long = false;
	for (;;) {
		ssize_t got;

		if (n == cap) {
			size_t want = cap ? cap * 2 : 65536;
			uint8_t *grown;

			/* One byte past the limit is enough to know the input is too long. */
			if (limit < SIZE_MAX && want > limit + 1)
				want = (size_t)limit + 1;
			if (want <= cap) {
				*too_long = true;
				break;
			}
			grown = realloc(buf, want);
			if (!grown) {
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
			cap = want;
		}
		got = read(STDIN_FILENO, buf + n, cap - n);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -errno;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > limit) {
			*too_long = true;
			break;
		}
	}
	*out = buf;
	*len = n;
	return 0;
}

static int write_fill(const struct args *a, shmbuf_client *c, const char *name)
{
	shmbuf_view v;
	int r;

	r = shmbuf_acquire(c, name, a->offset, a->has_length ? a->length : 0, SHMBUF_WRITE, a->wait_ms, &v, sizeof(v));
	if (r < 0)
		return ctl_fail(a, name, r);
	memset(v.data, a->fill, v.len);
	r = shmbuf_release(c, &v, sizeof(v));
	return r < 0 ? ctl_fail(a, name, r) : EXIT_OK;
}

/* The input is read whole before the lease is taken, so a slow producer never
 * keeps a write lease (and everyone waiting behind it) held. */
static int write_stdin(const struct args *a, shmbuf_client *c, const char *name)
{
	shmbuf_stat_info st;
	shmbuf_view v;
	uint8_t *buf = NULL;
	uint64_t limit;
	size_t len = 0;
	bool too_long;
	int r, rc = EXIT_OK;

	r = shmbuf_stat(c, name, &st, sizeof(st));
	if (r < 0)
		return ctl_fail(a, name, r);
	if (a->offset > st.size)
		return ctl_failf(a, "%s: offset %llu is past the end of the segment (%llu bytes)", name,
				 (unsigned long long)a->offset, (unsigned long long)st.size);
	limit = a->has_length ? a->length : st.size - a->offset;
	r = read_input(limit, &buf, &len, &too_long);
	if (r < 0)
		return ctl_failf(a, "cannot read standard input: %s", strerror(-r));
	if (too_long) {
		rc = ctl_failf(a, "%s: input is longer than the %llu bytes from offset %llu%s", name,
			       (unsigned long long)limit, (unsigned long long)a->offset,
			       a->has_length ? " given by --length" : " to the end of the segment");
		goto out;
	}
	if (len == 0)
		goto out; /* nothing to write; the segment exists */
	r = shmbuf_acquire(c, name, a->offset, a->has_length ? a->length : len, SHMBUF_WRITE, a->wait_ms, &v, sizeof(v));
	if (r < 0) {
		rc = ctl_fail(a, name, r);
		goto out;
	}
	memcpy(v.data, buf, len);
	r = shmbuf_release(c, &v, sizeof(v));
	if (r < 0)
		rc = ctl_fail(a, name, r);
out:
	free(buf);
	return rc;
}

int cmd_write(const struct args *a)
{
	shmbuf_client *c;
	int rc;

	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	rc = a->has_fill ? write_fill(a, c, a->pos[0]) : write_stdin(a, c, a->pos[0]);
	shmbuf_disconnect(c);
	return rc;
}

/* ---- hold ---- */

int cmd_hold(const struct args *a)
{
	const char *name = a->pos[0];
	unsigned flags = a->write ? SHMBUF_WRITE : SHMBUF_READ;
	shmbuf_client *c;
	shmbuf_view v;
	sigset_t set;
	char dur[32] = "";
	int r, rc;

	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	/* Until the lease is held a signal simply ends the process (and the
	 * daemon drops a waiting request with the connection). From then on it
	 * ends the hold: the lease is released and the exit status is 0. */
	r = ctl_acquire(c, name, a->offset, a->has_length ? a->length : 0, flags, a->wait_ms, &v);
	if (r < 0) {
		rc = ctl_fail(a, name, r);
		goto out;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (a->has_for)
		snprintf(dur, sizeof(dur), "for %gs", a->for_s);
	printf("holding %s lease %llu on %s, offset %llu, length %llu, %s\n", a->write ? "write" : "read",
	       (unsigned long long)v.lease_id, name, (unsigned long long)v.offset, (unsigned long long)v.len,
	       a->has_for ? dur : "until interrupted");
	fflush(stdout);
	/* The client's descriptor turns readable when the daemon goes away (the
	 * lease went with it): no polling of the daemon. */
	r = ctl_wait(c, &set, a->has_for ? a->for_s : -1.0, false);
	if (r == -ECONNRESET) {
		fprintf(stderr, "shmbufctl: hold: %s: connection to shmbufd lost; the lease ended with it\n", name);
		rc = EXIT_UNREACHABLE;
		goto out;
	}
	r = shmbuf_release(c, &v, sizeof(v));
	if (r < 0)
		rc = ctl_fail(a, name, r);
out:
	shmbuf_disconnect(c);
	return rc;
}
