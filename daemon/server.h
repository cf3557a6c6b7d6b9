/* SPDX-License-Identifier: MIT */
/* server.h: the one server object: configuration and the daemon-wide state every layer
 * reads (segments by name, grants by id, clients, accounting). Data only; daemon.c
 * sets it up, runs it and tears it down. */
#ifndef SHMBUFD_SERVER_H
#define SHMBUFD_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/un.h>
#include <uthash.h>
#include <uv.h>

#include "conn.h"
#include "leasetab.h"
#include "quota.h"
#include "segment.h"
#include "sizewatch.h"

struct server_config {
	const char *socket_path;     /* NULL: proto_default_socket_path() */
	unsigned socket_mode;        /* permission bits of a socket we create */
	bool prealloc;               /* reserve segment memory at create/grow */
	const char *state_dir;       /* NULL: "state" beside the socket (persist.c) */
	bool fresh;                  /* start empty: remove what a previous run left */
	bool fd_store;               /* hand segment fds to systemd's fd store */
	uint64_t grace_ms;           /* how long leases held before a restart wait for their holders */
	struct server_limits limits;
};

struct client;
struct grant;
struct mapper;
struct create_job;
struct fdstore_fd;
struct orphanage;

/* Owned by main(); daemon_init() fills it and daemon_deinit() empties it. */
struct server {
	uv_loop_t *loop;
	struct server_config cfg;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool is_socket_ours; /* created by us (unlink at exit), not passed by systemd */
	int listen_fd;
	uv_poll_t listen_poll;
	uv_timer_t accept_retry; /* out of fds: accepting pauses briefly */
	uv_timer_t handshakes;   /* drops connections that never said HELLO */
	uv_signal_t sig_term, sig_int;
	uv_idle_t reaper;        /* once per loop iteration: closes dead clients, settles segments */
	uv_idle_cb on_reap;      /* daemon.c's, started by server_schedule_reap() */
	bool is_stopping;        /* shutting down: grant nothing more */
	uid_t uid;               /* ours (effective): passes every permission check, as root does */
	char shm_prefix[32];  /* "/shmbuf.<socket tag>.", the same for every run on a socket */
	uint64_t instance;    /* random, per run: part of every shm object name */
	uint64_t next_object; /* suffix of the next shm object name */
	uint64_t next_lease_id;
	uint64_t next_client_id;
	uint64_t next_segment_id;
	uint64_t started_mono_ns; /* CLOCK_MONOTONIC, for uptime */
	uint64_t started_ns;  /* CLOCK_REALTIME */
	char state_path[PATH_MAX]; /* the state records' base: <dir>/shmbufd.<tag> (persist.c) */
	uint64_t state_seq;        /* of the current record, <base>.<seq>.state; 0: none yet */
	int state_fd;              /* the current record, open for appending changes; -1: none */
	int state_lock_fd;         /* <record>.lock, flock()ed: one daemon per record; -1: none */
	uint32_t state_appended;   /* changes appended to it */
	uint64_t starts;           /* daemons started on this record, this one included */
	bool uses_fd_store;        /* segment fds go to systemd's fd store (fdstore.c) */
	struct fdstore_fd *stored; /* what the store passed back, until restore_segments() is done */
	size_t n_stored;
	struct leasetab leasetab;   /* held leases, where a restart reads them (leasetab.c) */
	struct orphanage *orphans;  /* leases held before this start (orphan.c) */
	struct segment *segments; /* live segments by name */
	struct grant *grants;     /* all grants by id */
	struct grant *grant_anchor; /* id 0, no client, never a lease: keeps grants' table allocated */
	struct mapper *mappers;   /* who was sent which segment's fds, by (segment, client) id */
	TAILQ_HEAD(, segment) all_segments; /* every segment still in memory, by id */
	TAILQ_HEAD(, grant) all_grants;     /* every grant, by id */
	TAILQ_HEAD(, segment) unsettled;    /* segments whose leases changed this iteration */
	STAILQ_HEAD(, grant) revoked;       /* promoted, but the grant could not be sent */
	TAILQ_HEAD(, create_job) creates;   /* CREATEs under way on the thread pool */
	uint64_t fd_refused_logged_ns; /* last "cannot pass a descriptor" warning */
	uint32_t n_subscribers;   /* clients that asked for events */
	struct quota quota;       /* bytes, segments, connections in use */
	struct sizewatch sizewatch; /* objects changed through kept writable fds */
	struct conn_env conn_env; /* shared by every connection: receive buffer, queue limits, fd budget */
	TAILQ_HEAD(, client) clients;      /* in order of arrival */
	TAILQ_HEAD(, client) dead_clients; /* failed, closed by the reaper */
};

/* Have the reaper run at the next loop iteration (dead clients, unsettled segments). */
static inline void server_schedule_reap(struct server *srv)
{
	uv_idle_start(&srv->reaper, srv->on_reap);
}

#endif
