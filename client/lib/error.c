/* SPDX-License-Identifier: MIT */
/* error.c: error text: shmbuf_strerror(), the daemon's detail for this thread's
 * last failure, and the version string. */
#define _GNU_SOURCE /* strerrordesc_np */
#include "shmbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <string.h>

#include "error.h"

_Thread_local char error_detail[PROTO_ERRMSG_MAX + 1];

void error_clear(void)
{
	error_detail[0] = '\0';
}

int error_from_reply(const struct proto_msg *m)
{
	if (m->status == PROTO_OK)
		return 0;
	memcpy(error_detail, m->u.error.message, sizeof(error_detail));
	error_detail[sizeof(error_detail) - 1] = '\0';
	return proto_status_to_errno(m->status);
}

/* Words for an errno this API does not name itself. */
static const char *errno_text(int err)
{
	if (err == INT_MIN)
		return "unknown error";
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	{
		/* Static text, unlike strerror(), which may use a shared buffer. */
		const char *s = strerrordesc_np(err < 0 ? -err : err);

		return s ? s : "unknown error";
	}
#else
	{
		static _Thread_local char buf[128];

		if (strerror_r(err < 0 ? -err : err, buf, sizeof(buf)) != 0)
			return "unknown error";
		return buf;
	}
#endif
}

/* Errnos the library returns that the wire has no status for. */
static const char *client_errno_text(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EMFILE:
		return "this process has no file descriptor free for the segment";
	case -ENOMEM:
		return "out of memory";
	case -EOVERFLOW:
		return "range too large to map in this process";
	case -ECONNRESET:
		return "connection to shmbufd lost";
	case -ECONNREFUSED:
		return "no shmbufd listening at the socket path";
	}
	return NULL;
}

/* The wire's status table (proto.h) speaks for every errno a daemon can send;
 * only the library's own errnos are spelled here. */
const char *shmbuf_strerror(int err)
{
	const char *s = client_errno_text(err);

	if (!s)
		s = proto_errno_text(err);
	return s ? s : errno_text(err);
}

int error_local(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error_detail, sizeof(error_detail), fmt, ap);
	va_end(ap);
	return err;
}

const char *shmbuf_last_error_detail(void)
{
	return error_detail;
}

const char *shmbuf_version(void)
{
	return SHMBUF_VERSION_STRING;
}
