/* SPDX-License-Identifier: MIT */
/* client.c: a client's life (accepted, failed, freed), its lookup, and sending it messages. */
#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

int client_new(struct server *srv, int fd, struct client **out)
{
	struct client *cl = calloc(1, sizeof(*cl));
	int r;

	if (!cl) {
		close(fd);
		return -ENOMEM;
	}
	r = conn_new(&srv->conn_env, fd, cl, &cl->conn);
	if (r < 0) {
		free(cl);
		return r;
	}
	cl->srv = srv;
	cl->id = ++srv->next_client_id;
	cl->connected_ns = clock_mono_ns();
	TAILQ_INIT(&cl->grants);
	TAILQ_INIT(&cl->mappers);
	TAILQ_INSERT_TAIL(&srv->clients, cl, link);
	quota_conn(&srv->quota, cl->conn->cred.uid, +1);
	cl->user = quota_user_find(&srv->quota, cl->conn->cred.uid);
	*out = cl;
	return 0;
}

void client_free(struct client *cl)
{
	struct server *srv = cl->srv;

	if (cl->is_subscribed)
		srv->n_subscribers--;
	TAILQ_REMOVE(&srv->clients, cl, link);
	quota_conn(&srv->quota, cl->conn->cred.uid, -1);
	conn_close(cl->conn);
	free(cl);
}

void client_mark_dead(struct client *cl)
{
	if (cl->is_dead)
		return;
	cl->is_dead = true;
	TAILQ_INSERT_TAIL(&cl->srv->dead_clients, cl, dead_link);
	server_schedule_reap(cl->srv);
}

void client_fail(struct client *cl, const char *why)
{
	conn_fail(cl->conn, why);
}

struct client *client_find(struct server *srv, uint64_t id)
{
	struct client *cl;

	TAILQ_FOREACH(cl, &srv->clients, link)
		if (cl->id == id)
			return cl->is_dead ? NULL : cl;
	return NULL;
}

int client_send(struct client *cl, const struct proto_msg *m, int fd, struct conn_tag tag, bool is_owed)
{
	uint8_t buf[PROTO_MAX_MESSAGE];
	int len;

	if (cl->is_dead)
		return 0;
	len = proto_encode(m, buf, sizeof(buf));
	if (len < 0) {
		/* Our own message failed to encode: a daemon bug, not the client's fault. */
		log_err("client %d (%s): cannot encode %s reply: %s", (int)cl->conn->cred.pid, cl->conn->comm,
			proto_op_name(m->op), strerror(-len));
		client_fail(cl, "internal encoding error");
		return 0;
	}
	if (is_owed)
		return conn_send_owed(cl->conn, buf, (size_t)len, fd, tag);
	return conn_send(cl->conn, buf, (size_t)len, fd, tag);
}

void client_send_msg(struct client *cl, const struct proto_msg *m)
{
	client_send(cl, m, -1, (struct conn_tag){ 0 }, false);
}

static void reply_error_v(struct client *cl, const struct proto_msg *req, bool is_owed, enum proto_status st,
			  const char *fmt, va_list ap)
{
	char text[PROTO_ERRMSG_MAX + 1];
	struct proto_msg rep;

	vsnprintf(text, sizeof(text), fmt, ap);
	log_debug("client %d (%s): %s failed: %s: %s", (int)cl->conn->cred.pid, cl->conn->comm,
		  proto_op_name(req->op), proto_status_name(st), text);
	proto_make_error(&rep, req, st, text);
	client_send(cl, &rep, -1, (struct conn_tag){ 0 }, is_owed);
}

void client_reply_error(struct client *cl, const struct proto_msg *req, enum proto_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_error_v(cl, req, false, st, fmt, ap);
	va_end(ap);
}

void client_fail_wait(struct client *cl, uint32_t seq, enum proto_status st, const char *fmt, ...)
{
	struct proto_msg req = { .op = PROTO_OP_ACQUIRE, .seq = seq };
	va_list ap;

	va_start(ap, fmt);
	reply_error_v(cl, &req, true, st, fmt, ap);
	va_end(ap);
}

void client_reply_ok(struct client *cl, const struct proto_msg *req)
{
	struct proto_msg rep = { .op = req->op | PROTO_REPLY_BIT, .seq = req->seq };

	client_send_msg(cl, &rep);
}

void client_subscribe(struct client *cl)
{
	if (cl->is_subscribed)
		return;
	cl->is_subscribed = true;
	cl->srv->n_subscribers++;
}

struct access_cred client_cred(const struct client *cl)
{
	const struct conn *c = cl->conn;

	return (struct access_cred){ .uid = c->cred.uid, .gid = c->cred.gid, .groups = c->groups,
				     .n_groups = c->n_groups, .daemon_uid = cl->srv->uid };
}

bool client_is_privileged(const struct client *cl)
{
	struct access_cred c = client_cred(cl);

	return access_is_privileged(&c);
}

int client_may(const struct client *cl, const struct segment *seg, enum access_want want)
{
	struct access_cred c = client_cred(cl);
	struct access_obj o = { .uid = seg->uid, .gid = seg->gid, .mode = seg->mode };

	return access_check(&c, &o, want);
}
