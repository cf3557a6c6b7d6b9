/* SPDX-License-Identifier: MIT */
/* proto.c: what the wire format needs besides its codec: name validity, error replies, the default socket path. */
#define _GNU_SOURCE /* secure_getenv */
#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool proto_name_is_valid(const char *name, size_t len)
{
	if (len == 0 || len > PROTO_NAME_MAX || name[0] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c > 0x7e)
			return false;
	}
	return true;
}

const char *proto_name_problem(const char *name, size_t len, char *buf, size_t cap)
{
	if (len == 0) {
		snprintf(buf, cap, "the name is empty");
		return buf;
	}
	if (len > PROTO_NAME_MAX) {
		snprintf(buf, cap, "the name is longer than %d bytes", PROTO_NAME_MAX);
		return buf;
	}
	if (name[0] == '/') {
		snprintf(buf, cap, "the name starts with '/' (a name is a key, not a path)");
		return buf;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c > 0x7e) {
			snprintf(buf, cap, "byte 0x%02x at position %zu is not printable ASCII", c, i + 1);
			return buf;
		}
	}
	return NULL;
}

void proto_make_error(struct proto_msg *m, const struct proto_msg *req, enum proto_status status,
		      const char *message)
{
	/* Read req first: callers may answer in place (m == req). */
	uint16_t op = req->op | PROTO_REPLY_BIT;
	uint32_t seq = req->seq;

	memset(m, 0, sizeof(*m));
	m->op = op;
	m->seq = seq;
	m->status = (uint16_t)status;
	snprintf(m->u.error.message, sizeof(m->u.error.message), "%s", message ? message : "");
}

int proto_default_socket_path(char *buf, size_t cap)
{
	/* secure_getenv: a setuid program linked with libshmbuf must not be
	 * pointed at another daemon by whoever runs it. */
	const char *env = secure_getenv("SHMBUF_SOCKET");
	int n;

	if (env && *env)
		n = snprintf(buf, cap, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, cap, "/run/shmbuf/shmbufd.sock");
	else if ((env = secure_getenv("XDG_RUNTIME_DIR")) && *env)
		n = snprintf(buf, cap, "%s/shmbuf/shmbufd.sock", env);
	else
		n = snprintf(buf, cap, "/tmp/shmbuf-%u/shmbufd.sock", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}
