/* SPDX-License-Identifier: MIT */
/* daemon.c: the top: accepting clients, the handshake timer, the reaper, signals,
 * wiring connections to clients, and setting up and tearing down the server. */
#define _GNU_SOURCE
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "dispatch.h"
#include "event.h"
#include "fdstore.h"
#include "fdio.h"
#include "grant.h"
#include "job.h"
#include "listen.h"
#include "log.h"
#include "mapper.h"
#include "orphan.h"
#include "persist.h"
#include "restore.h"
#include "size.h"

#define ACCEPT_BATCH 16

/* FNV-1a: a stable instance tag from the socket path, so a restarted daemon
 * on the same socket finds the objects its crashed predecessor left. */
static uint32_t path_tag(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static void refuse(int fd, enum proto_status st, const char *text)
{
	struct proto_msg req = { .op = PROTO_OP_HELLO }, rep;
	uint8_t buf[PROTO_HEADER_SIZE + 2 + PROTO_ERRMSG_MAX];
	int len;

	proto_make_error(&rep, &req, st, text);
	len = proto_encode(&rep, buf, sizeof(buf));
	if (len > 0)
		fdio_send(fd, buf, (size_t)len, -1); /* best effort: the socket is new and empty */
	/* Closing a Unix socket with unread data (the client's HELLO, sent at once
	 * after connect) makes the client's next recv fail with ECONNRESET before it
	 * sees our reply. Refuse further data (the client's send gets EPIPE) and
	 * drop what came, so the client reads the reason and then end-of-file. */
	shutdown(fd, SHUT_RD);
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	close(fd);
}

static void on_accept_retry(uv_timer_t *t);

/* Whether the peer on fd is root or runs as the daemon's uid: it may use the
 * connections held in reserve (quota_conn_reserve()). */
static bool peer_is_exempt(const struct server *srv, int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return false;
	return uc.uid == 0 || uc.uid == srv->uid;
}

static void on_listen(uv_poll_t *h, int status, int events)
{
	struct server *srv = h->data;
	struct client *cl;

	if (status < 0) {
		log_err("listening socket: %s", uv_strerror(status));
		return;
	}
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int r;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Level-triggered: back off instead of spinning on the pending connection. */
				log_warn("cannot accept clients: %s; retrying in 100 ms", strerror(errno));
				uv_poll_stop(&srv->listen_poll);
				uv_timer_start(&srv->accept_retry, on_accept_retry, 100, 0);
			}
			return;
		}
		if (quota_conns_are_full(&srv->quota, peer_is_exempt(srv, fd))) {
			log_warn("connection limit (%u) reached; refusing a client", srv->cfg.limits.max_connections);
			refuse(fd, PROTO_E_LIMIT, "shmbufd's connection limit is reached");
			continue;
		}
		r = client_new(srv, fd, &cl);
		if (r < 0) {
			log_err("cannot set up a client connection: %s", strerror(-r));
			continue;
		}
		if (quota_user_is_over(&srv->quota, cl->conn->cred.uid, client_is_privileged(cl))) {
			struct proto_msg req = { .op = PROTO_OP_HELLO }, rep;

			proto_make_error(&rep, &req, PROTO_E_LIMIT, "this user's connection limit is reached");
			client_send_msg(cl, &rep);
			client_fail(cl, "the user's connection limit is reached");
			continue;
		}
		log_debug("client %d (%s, uid %d) connected", (int)cl->conn->cred.pid, cl->conn->comm,
			  (int)cl->conn->cred.uid);
		event_client(srv, PROTO_EV_CLIENT_CONNECTED, cl);
		cl->was_announced = true;
	}
}

/* Clients are listed in the order they came, so the walk stops at the
 * first one still inside its handshake time. */
static void on_handshakes(uv_timer_t *t)
{
	struct server *srv = t->data;
	uint64_t limit = (uint64_t)srv->cfg.limits.handshake_timeout_s * 1000000000u;
	uint64_t now = clock_mono_ns();
	struct client *cl;

	TAILQ_FOREACH(cl, &srv->clients, link) {
		if (now - cl->connected_ns < limit)
			break;
		if (!cl->has_said_hello && !cl->is_dead) {
			struct proto_msg req = { .op = PROTO_OP_HELLO }, rep;

			proto_make_error(&rep, &req, PROTO_E_PROTO, "no HELLO in time");
			client_send_msg(cl, &rep);
			client_fail(cl, "no HELLO in time");
		}
	}
}

static void on_accept_retry(uv_timer_t *t)
{
	struct server *srv = t->data;

	uv_poll_start(&srv->listen_poll, UV_READABLE, on_listen);
}

/* cl is going away: its grants end, then it stops mapping anything (so a
 * destroyed segment it kept goes now, before its CLIENT_DISCONNECTED). */
static void end_client(struct server *srv, struct client *cl)
{
	struct segment *seg;

	grant_drop_client(cl);
	while ((seg = mapper_drop_first(cl)))
		if (seg->is_destroyed)
			grant_settle_later(srv, seg);
}

static void on_reap(uv_idle_t *h)
{
	struct server *srv = h->data;
	struct client *cl;

	while ((cl = TAILQ_FIRST(&srv->dead_clients))) {
		TAILQ_REMOVE(&srv->dead_clients, cl, dead_link);
		end_client(srv, cl);
		/* Skipped by the broadcast itself: cl is dead. */
		if (cl->was_announced)
			event_client(srv, PROTO_EV_CLIENT_DISCONNECTED, cl);
		client_free(cl);
	}
	/* Settling may fail connections (a send error): they are reaped next iteration. */
	grant_settle_all(srv);
	if (TAILQ_EMPTY(&srv->dead_clients) && TAILQ_EMPTY(&srv->unsettled))
		uv_idle_stop(h);
}

/* ---- connections to clients ----------------------------------------------- */

static void on_conn_datagram(struct conn *c, const uint8_t *buf, size_t len, int fd)
{
	dispatch_datagram(c->data, buf, len, fd);
}

static void on_conn_bad_datagram(struct conn *c, int err)
{
	dispatch_bad_datagram(c->data, err);
}

static void on_conn_fd_refused(struct conn *c, struct conn_tag tag)
{
	grant_fd_refused(c->data, tag);
}

static void on_conn_fail(struct conn *c)
{
	client_mark_dead(c->data);
}

static const struct conn_ops client_conn_ops = {
	.on_datagram = on_conn_datagram,
	.on_bad_datagram = on_conn_bad_datagram,
	.on_fd_refused = on_conn_fd_refused,
	.on_fail = on_conn_fail,
};

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;

	log_notice("received %s, shutting down", strsignal(signum));
	uv_stop(srv->loop);
}

/* The parts of the server that need no system resources yet. */
static int init_state(struct server *srv, uv_loop_t *loop, const struct server_config *cfg)
{
	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->cfg = *cfg;
	srv->listen_fd = -1;
	srv->state_fd = -1;
	srv->leasetab.fd = -1;
	srv->state_lock_fd = -1;
	TAILQ_INIT(&srv->clients);
	TAILQ_INIT(&srv->dead_clients);
	TAILQ_INIT(&srv->all_segments);
	TAILQ_INIT(&srv->all_grants);
	TAILQ_INIT(&srv->unsettled);
	STAILQ_INIT(&srv->revoked);
	TAILQ_INIT(&srv->creates);
	quota_init(&srv->quota, &srv->cfg.limits);
	srv->conn_env = (struct conn_env){
		.loop = loop,
		.ops = &client_conn_ops,
		.max_message = cfg->limits.max_message,
		.max_queue = cfg->limits.max_queue,
		.fd_budget = quota_fd_budget(&cfg->limits),
	};
	sizewatch_init(&srv->sizewatch, loop, mapper_describe_writers); /* without it, sizes are checked at each write lease's end */
	srv->started_ns = clock_real_ns();
	srv->uid = geteuid();
	srv->started_mono_ns = clock_mono_ns();
	if (!cfg->socket_path)
		return proto_default_socket_path(srv->socket_path, sizeof(srv->socket_path));
	return snprintf(srv->socket_path, sizeof(srv->socket_path), "%s", cfg->socket_path) <
				       (int)sizeof(srv->socket_path) ? 0 : -ENAMETOOLONG;
}

/* The loop's handles: listening, the accept back-off, handshakes, the reaper, signals. */
static void start_handles(struct server *srv)
{
	uv_loop_t *loop = srv->loop;
	uint32_t check_ms = srv->cfg.limits.handshake_timeout_s * 250u;

	uv_poll_init(loop, &srv->listen_poll, srv->listen_fd);
	srv->listen_poll.data = srv;
	uv_poll_start(&srv->listen_poll, UV_READABLE, on_listen);
	uv_timer_init(loop, &srv->accept_retry);
	srv->accept_retry.data = srv;
	uv_timer_init(loop, &srv->handshakes);
	srv->handshakes.data = srv;
	/* Checked a few times per timeout: a silent client goes within 1.25 timeouts. */
	uv_timer_start(&srv->handshakes, on_handshakes, check_ms, check_ms);
	uv_unref((uv_handle_t *)&srv->handshakes);
	uv_idle_init(loop, &srv->reaper);
	srv->reaper.data = srv;
	srv->on_reap = on_reap;
	uv_signal_init(loop, &srv->sig_term);
	srv->sig_term.data = srv;
	uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
	uv_signal_init(loop, &srv->sig_int);
	srv->sig_int.data = srv;
	uv_signal_start(&srv->sig_int, on_signal, SIGINT);
}

/* Only live segments are left (destroyed ones went with their last grant), and those a
 * grow job still holds (freed when it is done). Their objects stay in /dev/shm, named by
 * the state record, for the next run to adopt: a stop is not a "destroy everything". */
static void free_segments(struct server *srv)
{
	struct segment *seg, *next;

	for (seg = TAILQ_FIRST(&srv->all_segments); seg; seg = next) {
		next = TAILQ_NEXT(seg, order_link);
		if (!seg->is_destroyed) {
			HASH_DEL(srv->segments, seg);
			seg->is_destroyed = true; /* not unlinked: the memory outlives this run */
		}
		if (seg->refs == 0) {
			TAILQ_REMOVE(&srv->all_segments, seg, order_link);
			segment_free(seg);
		}
	}
}

int daemon_init(struct server *srv, uv_loop_t *loop, const struct server_config *cfg)
{
	char max_bytes[64];
	int r = init_state(srv, loop, cfg);

	if (r < 0) {
		log_err("socket path too long (at most %zu bytes)", sizeof(srv->socket_path) - 1);
		return r;
	}
	srv->conn_env.rxbuf = malloc(srv->cfg.limits.max_message);
	if (!srv->conn_env.rxbuf)
		return -ENOMEM;
	r = listen_open(srv);
	if (r < 0)
		goto fail;
	snprintf(srv->shm_prefix, sizeof(srv->shm_prefix), "/shmbuf.%08x.",
		 path_tag(srv->socket_path) ^ (uint32_t)geteuid());
	if (getrandom(&srv->instance, sizeof(srv->instance), 0) != sizeof(srv->instance))
		srv->instance = (uint64_t)getpid() << 32 ^ srv->started_ns; /* no entropy yet: still unique */
	r = persist_init(srv);
	if (r == 0)
		r = restore_segments(srv);
	if (r == 0)
		r = orphan_init(srv);
	if (r < 0)
		goto fail;
	for (struct segment *seg = TAILQ_FIRST(&srv->all_segments); seg; seg = TAILQ_NEXT(seg, order_link))
		fdstore_add(srv, seg); /* the store keeps one copy of each: adding again is harmless */
	start_handles(srv);
	size_human(cfg->limits.max_bytes, max_bytes, sizeof(max_bytes));
	log_notice("shmbufd %s listening on %s (limits: %s, %u segments, %u clients, %u leases per client)",
		   SHMBUF_VERSION_STR, srv->socket_path, max_bytes, cfg->limits.max_segments,
		   cfg->limits.max_connections, cfg->limits.max_leases);
	return 0;
fail:
	orphan_deinit(srv);
	persist_deinit(srv);
	persist_unlock(srv);
	fdstore_release_unclaimed(srv);
	sizewatch_deinit(&srv->sizewatch);
	free_segments(srv);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->is_socket_ours)
		unlink(srv->socket_path);
	free(srv->conn_env.rxbuf);
	srv->conn_env.rxbuf = NULL;
	return r;
}

void daemon_deinit(struct server *srv)
{
	struct client *cl;

	/* Every client goes the way a vanished one does: its grants end, and
	 * nobody waiting is granted anything on the way out. */
	srv->is_stopping = true;
	job_cancel_creates(srv);
	while ((cl = TAILQ_FIRST(&srv->dead_clients)))
		TAILQ_REMOVE(&srv->dead_clients, cl, dead_link);
	while ((cl = TAILQ_FIRST(&srv->clients))) {
		end_client(srv, cl);
		client_free(cl);
	}
	orphan_deinit(srv);
	grant_settle_all(srv); /* frees the destroyed segments */
	sizewatch_deinit(&srv->sizewatch);
	if (srv->grant_anchor) {
		HASH_DEL(srv->grants, srv->grant_anchor);
		free(srv->grant_anchor);
		srv->grant_anchor = NULL;
	}
	free_segments(srv);
	uv_close((uv_handle_t *)&srv->listen_poll, NULL);
	uv_close((uv_handle_t *)&srv->accept_retry, NULL);
	uv_close((uv_handle_t *)&srv->handshakes, NULL);
	uv_close((uv_handle_t *)&srv->reaper, NULL);
	uv_close((uv_handle_t *)&srv->sig_term, NULL);
	uv_close((uv_handle_t *)&srv->sig_int, NULL);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->is_socket_ours)
		unlink(srv->socket_path);
	quota_deinit(&srv->quota);
	persist_deinit(srv);
	persist_unlock(srv);
	free(srv->conn_env.rxbuf);
	srv->conn_env.rxbuf = NULL;
}
