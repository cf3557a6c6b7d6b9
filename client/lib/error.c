/* error.c: error text: shmbuf_strerror(), the daemon's detail for this thread's
 * last failure, and the version string. */
#define _GNU_SOURCE /* strerrordesc_np */
#include "shmbuf.h"

#include <errno.h>
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

const char *shmbuf_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EPERM:
		return "operation not permitted";
	case -ENOENT:
		return "no such segment or lease (or no daemon at the socket path)";
	case -EMFILE:
		return "this process has no file descriptor free for the segment";
	case -EIO:
		return "shmbufd failed internally, or granted a lease without its memory";
	case -ENOMEM:
		return "out of memory";
	case -EACCES:
		return "permission denied (segment mode, or the socket's permissions)";
	case -EBUSY:
		return "range is leased by someone else (conflicting lease or waiters ahead)";
	case -EEXIST:
		return "a segment with that name exists";
	case -EINVAL:
		return "invalid argument (name, size, mode, flags or timeout)";
	case -ENOSPC:
		return "no space: the daemon's byte limit or shared memory is exhausted";
	case -ERANGE:
		return "range lies outside the segment or overflows";
	case -EDQUOT:
		return "a daemon limit was reached (segments, leases or connections)";
	case -ENAMETOOLONG:
		return "name too long (segment names are at most 255 bytes; or the socket path is too long)";
	case -EPROTO:
		return "protocol error between libshmbuf and shmbufd";
	case -EBADMSG:
		return "malformed message (shmbufd refused what it received)";
	case -EOVERFLOW:
		return "range too large to map in this process";
	case -EMSGSIZE:
		return "request larger than shmbufd accepts";
	case -EPROTONOSUPPORT:
		return "shmbufd speaks no common protocol version";
	case -EOPNOTSUPP:
		return "operation not supported by this shmbufd";
	case -ECONNRESET:
		return "connection to shmbufd lost";
	case -ECONNREFUSED:
		return "no shmbufd listening at the socket path";
	case -ETIMEDOUT:
		return "timed out (waiting for a lease, or for an event)";
	}
	return errno_text(err);
}

const char *shmbuf_last_error_detail(void)
{
	return error_detail;
}

const char *shmbuf_version(void)
{
	return SHMBUF_VERSION_STRING;
}
