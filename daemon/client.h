/* SPDX-License-Identifier: MIT */
/* client.h: one client's protocol state above its connection: HELLO, subscription, its
 * grants; and the helpers that encode and send it messages. */
#ifndef SHMBUFD_CLIENT_H
#define SHMBUFD_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "access.h"
#include "conn.h"
#include "proto.h"
#include "server.h"

TAILQ_HEAD(grant_list, grant);
TAILQ_HEAD(client_mapper_list, mapper);

/* Owned by the server (server->clients) from accept until client_free(),
 * which the reaper or daemon_deinit() calls. Owns its conn. */
struct client {
	struct server *srv;
	struct conn *conn;
	uint64_t id;
	uint64_t connected_ns;  /* CLOCK_MONOTONIC */
	bool has_said_hello;
	bool is_subscribed;     /* sent SUBSCRIBE: receives events */
	bool was_announced;     /* its CLIENT_CONNECTED event went out (a refused one's never does) */
	bool is_dead;           /* its connection failed: in server->dead_clients until reaped */
	bool is_orphan_holder;  /* no connection: holds leases from before a restart (orphan.c) */
	struct grant_list grants; /* held and waiting, in request order */
	uint32_t n_grants;
	uint32_t n_waiting;
	struct client_mapper_list mappers; /* segments it was sent fds of (mapper.c) */
	struct quota_user *user; /* its uid's accounting (kept alive by its connection); NULL if out of memory */
	TAILQ_ENTRY(client) link;      /* server->clients */
	TAILQ_ENTRY(client) dead_link; /* server->dead_clients while dead */
};

/* Take an accepted non-blocking socket. Returns 0 or a negative errno (the
 * socket is closed on failure). */
int client_new(struct server *srv, int fd, struct client **out);
/* Close its connection and forget it. Its grants must have ended. */
void client_free(struct client *cl);

/* The connection failed (conn_ops.on_fail): queue cl for the reaper. */
void client_mark_dead(struct client *cl);
/* Drop the client (why is logged), at the next safe point. */
void client_fail(struct client *cl, const char *why);

/* The live client with this id, or NULL if it has left. */
struct client *client_find(struct server *srv, uint64_t id);

/* Encode m and send it with fd (see conn_send()); tag comes back through
 * conn_ops.on_fd_refused should the kernel refuse fd later. is_owed: m
 * answers a wait (a grant or the failure of a waiting ACQUIRE), which never
 * overflows the queue (conn_send_owed()). Returns 0 or -ETOOMANYREFS (nothing
 * sent; the caller answers otherwise). */
int client_send(struct client *cl, const struct proto_msg *m, int fd, struct conn_tag tag, bool is_owed);
/* Send m, which carries no fd. */
void client_send_msg(struct client *cl, const struct proto_msg *m);
/* Answer req with an error (logged at debug level) or with an empty success. */
void client_reply_error(struct client *cl, const struct proto_msg *req, enum proto_status st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void client_reply_ok(struct client *cl, const struct proto_msg *req);
/* Fail cl's waiting ACQUIRE seq with st: an owed answer (see client_send()). */
void client_fail_wait(struct client *cl, uint32_t seq, enum proto_status st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* cl's credentials for access.c's checks (valid while cl lives). */
struct access_cred client_cred(const struct client *cl);
/* Whether cl is root or runs as the daemon's uid: passes every check, sees everything. */
bool client_is_privileged(const struct client *cl);
/* access_check() of cl on seg: 0, -ENOENT, -EACCES or -EPERM. */
int client_may(const struct client *cl, const struct segment *seg, enum access_want want);

/* Start sending cl events. */
void client_subscribe(struct client *cl);

#endif
