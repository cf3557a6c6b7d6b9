/* SPDX-License-Identifier: MIT */
/* dispatch.c: decoding each request, HELLO first, and the one switch over opcodes. */
#define _GNU_SOURCE
#include "dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "handle_lease.h"
#include "handle_owner.h"
#include "handle_reclaim.h"
#include "handle_segment.h"
#include "introspect.h"
#include "log.h"

void dispatch_bad_datagram(struct client *cl, int err)
{
	/* The datagram is gone; its seq is unknown, so answer with seq 0. */
	struct proto_msg req = { .op = PROTO_OP_HELLO, .seq = 0 }, rep;
	char msg[96];

	if (err == -EBADMSG) {
		proto_make_error(&rep, &req, PROTO_E_BADFD, "file descriptors are not accepted");
		client_send_msg(cl, &rep);
		client_fail(cl, "sent file descriptors");
		return;
	}
	snprintf(msg, sizeof(msg), "message larger than the %u bytes shmbufd accepts",
		 cl->srv->cfg.limits.max_message);
	proto_make_error(&rep, &req, PROTO_E_MSGSIZE, msg);
	log_info("client %d (%s): %s", (int)cl->conn->cred.pid, cl->conn->comm, msg);
	client_send_msg(cl, &rep);
}

static void handle_hello(struct client *cl, const struct proto_msg *req)
{
	const struct proto_hello *h = &req->u.hello;
	struct proto_msg rep = { .op = PROTO_OP_HELLO | PROTO_REPLY_BIT, .seq = req->seq };

	if (cl->has_said_hello) {
		client_reply_error(cl, req, PROTO_E_PROTO, "HELLO sent twice");
		return;
	}
	if (h->min_version > PROTO_VERSION || h->max_version < PROTO_VERSION) {
		client_reply_error(cl, req, PROTO_E_VERSION, "client speaks versions %u-%u, shmbufd speaks %u",
				   h->min_version, h->max_version, PROTO_VERSION);
		client_fail(cl, "no common protocol version");
		return;
	}
	cl->has_said_hello = true;
	rep.u.hello_reply.version = PROTO_VERSION;
	rep.u.hello_reply.max_message = cl->srv->cfg.limits.max_message;
	rep.u.hello_reply.server_pid = (uint32_t)getpid();
	snprintf(rep.u.hello_reply.server_version, sizeof(rep.u.hello_reply.server_version), "%s",
		 SHMBUF_VERSION_STR);
	client_send_msg(cl, &rep);
}

/* One place per opcode: no default, so the compiler names a missing case. */
static void dispatch_request(struct client *cl, const struct proto_msg *req)
{
	switch ((enum proto_op)req->op) {
	case PROTO_OP_HELLO:
		handle_hello(cl, req);
		return;
	case PROTO_OP_CREATE:
		handle_create(cl, req);
		return;
	case PROTO_OP_DESTROY:
		handle_destroy(cl, req);
		return;
	case PROTO_OP_RESIZE:
		handle_resize(cl, req);
		return;
	case PROTO_OP_ACQUIRE:
		handle_acquire(cl, req);
		return;
	case PROTO_OP_RELEASE:
		handle_release(cl, req);
		return;
	case PROTO_OP_UNMAP:
		handle_unmap(cl, req);
		return;
	case PROTO_OP_CANCEL:
		handle_cancel(cl, req);
		return;
	case PROTO_OP_RECLAIM:
		handle_reclaim(cl, req);
		return;
	case PROTO_OP_STAT:
		handle_stat(cl, req);
		return;
	case PROTO_OP_STATUS:
		handle_status(cl, req);
		return;
	case PROTO_OP_LIST_SEGMENTS:
		handle_list_segments(cl, req);
		return;
	case PROTO_OP_LIST_LEASES:
		handle_list_leases(cl, req);
		return;
	case PROTO_OP_LIST_CLIENTS:
		handle_list_clients(cl, req);
		return;
	case PROTO_OP_SUBSCRIBE:
		handle_subscribe(cl, req);
		return;
	case PROTO_OP_CHMOD:
		handle_chmod(cl, req);
		return;
	case PROTO_OP_CHOWN:
		handle_chown(cl, req);
		return;
	case PROTO_OP_LIST_USERS:
		handle_list_users(cl, req);
		return;
	case PROTO_OP_EVENT:
		break; /* daemon-to-client only */
	}
	client_reply_error(cl, req, PROTO_E_NOTSUP, "opcode %u is not a request", req->op);
}

/* Requests carry no fds: answer with the request's seq (read from the raw
 * header, since nothing else of it is trusted) and drop the client. */
static void refuse_fd(struct client *cl, const uint8_t *buf, size_t len, int fd)
{
	struct proto_msg req;

	close(fd);
	req.op = PROTO_OP_HELLO;
	req.seq = len >= 8 ? (uint32_t)buf[4] | (uint32_t)buf[5] << 8 | (uint32_t)buf[6] << 16 |
					 (uint32_t)buf[7] << 24
			   : 0;
	client_reply_error(cl, &req, PROTO_E_BADFD, "file descriptors are not accepted");
	client_fail(cl, "sent a file descriptor");
}

void dispatch_datagram(struct client *cl, const uint8_t *buf, size_t len, int fd)
{
	struct proto_msg req;
	const char *why = "malformed message";
	int r;

	if (fd >= 0) {
		refuse_fd(cl, buf, len, fd);
		return;
	}
	r = proto_decode(buf, len, &req, &why);
	if (r == -EOPNOTSUPP) {
		client_reply_error(cl, &req, PROTO_E_NOTSUP, "unknown opcode %u", req.op);
		return;
	}
	if (r == -ENAMETOOLONG) {
		client_reply_error(cl, &req, PROTO_E_NAMETOOLONG, "segment name longer than %d bytes", PROTO_NAME_MAX);
		return;
	}
	if (r < 0 || (req.op & PROTO_REPLY_BIT)) {
		struct proto_msg bad = { .op = PROTO_OP_HELLO, .seq = 0 };

		if (r == 0)
			why = "clients send requests, not replies";
		client_reply_error(cl, r < 0 ? &bad : &req, PROTO_E_PROTO, "malformed message: %s", why);
		client_fail(cl, why);
		return;
	}
	if (!cl->has_said_hello && req.op != PROTO_OP_HELLO) {
		client_reply_error(cl, &req, PROTO_E_PROTO, "HELLO must come first");
		client_fail(cl, "request before HELLO");
		return;
	}
	dispatch_request(cl, &req);
}
