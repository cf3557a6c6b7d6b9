/* SPDX-License-Identifier: MIT */
/* fdio.c: one datagram plus at most one SCM_RIGHTS fd over a SOCK_SEQPACKET socket. */
#include "fdio.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Room for more fds than we accept: a peer that sends several is then seen
 * and all of them closed, rather than the kernel silently dropping the extra
 * ones and us taking the first as if it came alone. MSG_CTRUNC still catches
 * a peer sending more than this. */
#define FDIO_MAX_FDS 16

union fdio_control {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * FDIO_MAX_FDS)];
};

int fdio_send(int sock, const uint8_t *buf, size_t len, int fd)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* SOCK_SEQPACKET sends a datagram whole or fails; anything else is a bug. */
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

/* Close every fd in the control data; returns how many there were, or -1 if
 * anything but SCM_RIGHTS was present. The first fd is stored in *first. */
static int collect_fds(struct msghdr *msg, int *first)
{
	int count = 0;
	bool foreign = false;

	*first = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t bytes, room;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			foreign = true;
			continue;
		}
		/* Never trust cmsg_len past the end of our buffer. */
		bytes = c->cmsg_len > CMSG_LEN(0) ? c->cmsg_len - CMSG_LEN(0) : 0;
		room = (size_t)((char *)msg->msg_control + msg->msg_controllen - (char *)CMSG_DATA(c));
		if (bytes > room)
			bytes = room;
		for (size_t i = 0; i < bytes / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (count++ == 0)
				*first = fd;
			else
				close(fd);
		}
	}
	return foreign ? -1 : count;
}

static long recv_one(int sock, uint8_t *buf, size_t cap, int *fd, bool lost_fd_ok)
{
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	union fdio_control control;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n;
	int count, first;

	*fd = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	count = collect_fds(&msg, &first);
	if (lost_fd_ok && (msg.msg_flags & MSG_CTRUNC) && !(msg.msg_flags & MSG_TRUNC) && count == 0 && n > 0) {
		*fd = FDIO_FD_LOST;
		return (long)n;
	}
	if (msg.msg_flags & MSG_TRUNC || msg.msg_flags & MSG_CTRUNC || count < 0 || count > 1 || n == 0) {
		if (first >= 0)
			close(first);
		if (msg.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		if (n == 0 && count == 0)
			return 0; /* orderly shutdown: shmbuf never sends empty datagrams */
		return -EBADMSG;
	}
	*fd = first;
	return (long)n;
}

long fdio_recv(int sock, uint8_t *buf, size_t cap, int *fd)
{
	return recv_one(sock, buf, cap, fd, false);
}

long fdio_recv_reply(int sock, uint8_t *buf, size_t cap, int *fd)
{
	return recv_one(sock, buf, cap, fd, true);
}
