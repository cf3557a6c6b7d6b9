/* server.c: the listening socket, accepting clients, signals, and tearing everything down. */
#define _GNU_SOURCE
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "fdio.h"
#include "log.h"

#define ACCEPT_BATCH 16

uint64_t server_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* FNV-1a: a stable instance tag from the socket path, so a restarted daemon
 * on the same socket finds the objects its crashed predecessor left. */
static uint32_t path_tag(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* Objects in /dev/shm with our prefix belong to a previous instance on this
 * socket that died without cleaning up (we hold the socket, so no live one). */
static void remove_stale_objects(const struct server *srv)
{
	const char *prefix = srv->shm_prefix + 1; /* without the leading '/' */
	size_t plen = strlen(prefix);
	struct dirent *d;
	DIR *dir = opendir("/dev/shm");
	int n = 0;

	if (!dir)
		return;
	while ((d = readdir(dir))) {
		char name[300];

		if (strncmp(d->d_name, prefix, plen) != 0)
			continue;
		snprintf(name, sizeof(name), "/%s", d->d_name);
		if (shm_unlink(name) == 0)
			n++;
	}
	closedir(dir);
	if (n)
		log_notice("removed %d shared-memory objects left by a previous shmbufd on this socket", n);
}

/* The socket's directory must be ours (or root's) and not writable by others,
 * or another user could have put it there to swap in a socket of their own
 * (e.g. a pre-made /tmp/shmbuf-<uid>). */
static int socket_dir_is_safe(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return -errno;
	if ((st.st_uid != geteuid() && st.st_uid != 0) ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
		log_err("%s is owned by uid %d or writable by others; refusing to put the socket there", dir,
			(int)st.st_uid);
		return -EPERM;
	}
	return 0;
}

static int mkdir_parents(const char *path, mode_t mode)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	p = strrchr(buf, '/');
	if (!p || p == buf)
		return 0;
	*p = '\0';
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return socket_dir_is_safe(buf);
}

/* A socket file that exists may be a live daemon's or a stale one. */
static int clear_stale_socket(const struct sockaddr_un *addr)
{
	struct stat st;
	int fd, r;

	if (lstat(addr->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s exists and is not a socket; not touching it", addr->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	close(fd);
	if (r == 0) {
		log_err("another shmbufd is already listening on %s", addr->sun_path);
		return -EADDRINUSE;
	}
	if (unlink(addr->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int listen_socket(struct server *srv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, r;

#ifdef HAVE_LIBSYSTEMD
	int n = sd_listen_fds(1);

	if (n > 1) {
		log_err("systemd passed %d sockets; shmbufd uses exactly one", n);
		return -EINVAL;
	}
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
			log_err("the socket passed by systemd is not a listening AF_UNIX SOCK_SEQPACKET socket");
			return -EINVAL;
		}
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
			return -errno;
		{
			struct sockaddr_un bound;
			socklen_t len = sizeof(bound);

			if (getsockname(fd, (struct sockaddr *)&bound, &len) == 0 && len > sizeof(sa_family_t))
				snprintf(srv->socket_path, sizeof(srv->socket_path), "%s", bound.sun_path);
		}
		srv->listen_fd = fd;
		srv->socket_is_ours = false;
		log_info("using the socket passed by systemd (%s)", srv->socket_path);
		return 0;
	}
#endif
	if (strlen(srv->socket_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, srv->socket_path, strlen(srv->socket_path) + 1);
	r = mkdir_parents(srv->socket_path, geteuid() == 0 ? 0755 : 0700);
	if (r < 0) {
		log_err("cannot create the directory for %s: %s", srv->socket_path, strerror(-r));
		return r;
	}
	r = clear_stale_socket(&addr);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(addr.sun_path, srv->cfg.socket_mode) < 0 ||
	    listen(fd, 128) < 0) {
		r = -errno;
		log_err("cannot listen on %s: %s", srv->socket_path, strerror(-r));
		close(fd);
		unlink(addr.sun_path);
		return r;
	}
	srv->listen_fd = fd;
	srv->socket_is_ours = true;
	return 0;
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

/* How many fd duplicates the outgoing queues may hold together: a quarter of
 * what we may open, the rest being for segments (two each) and connections. */
static uint32_t fd_budget(const struct server_limits *lim)
{
	struct rlimit rl;
	uint64_t max = 1024, need;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur;
	need = 2ull * lim->max_segments + lim->max_connections + 64;
	if (need > max)
		log_warn("RLIMIT_NOFILE is %llu but the limits allow %llu segments (two fds each) and %u "
			 "clients: creates may fail with LIMIT before --max-segments",
			 (unsigned long long)max, (unsigned long long)lim->max_segments, lim->max_connections);
	return (uint32_t)(max / 4 > UINT32_MAX ? UINT32_MAX : max / 4);
}

static void on_accept_retry(uv_timer_t *t);

static void on_listen(uv_poll_t *h, int status, int events)
{
	struct server *srv = h->data;
	struct conn *c;

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
		if (srv->n_conns >= srv->cfg.limits.max_connections) {
			log_warn("connection limit (%u) reached; refusing a client", srv->cfg.limits.max_connections);
			refuse(fd, PROTO_E_LIMIT, "shmbufd's connection limit is reached");
			continue;
		}
		r = conn_new(srv, fd, &c);
		if (r < 0) {
			log_err("cannot set up a client connection: %s", strerror(-r));
			continue;
		}
		/* Root is exempt: it can stop the daemon anyway, and tools run as root. */
		if (c->cred.uid != 0 && server_user_conns(srv, c->cred.uid, 0) > srv->cfg.limits.max_user_connections) {
			struct proto_msg req = { .op = PROTO_OP_HELLO }, rep;

			proto_make_error(&rep, &req, PROTO_E_LIMIT, "this user's connection limit is reached");
			conn_send(c, &rep, -1);
			conn_fail(c, "the user's connection limit is reached");
			continue;
		}
		log_debug("client %d (%s, uid %d) connected", (int)c->cred.pid, c->comm, (int)c->cred.uid);
		event_client(srv, PROTO_EV_CLIENT_CONNECTED, c);
		c->announced = true;
	}
}

uint32_t server_user_conns(struct server *srv, uid_t uid, int delta)
{
	struct user_conns *u = NULL;

	HASH_FIND(hh, srv->users, &uid, sizeof(uid), u);
	if (!u && delta <= 0)
		return 0;
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return UINT32_MAX; /* counts as over any limit: refused */
		u->uid = uid;
		HASH_ADD(hh, srv->users, uid, sizeof(u->uid), u);
	}
	u->count += (uint32_t)delta;
	if (u->count == 0) {
		HASH_DEL(srv->users, u);
		free(u);
		return 0;
	}
	return u->count;
}

/* Connections are listed in the order they came, so the walk stops at the
 * first one still inside its handshake time. */
static void on_handshakes(uv_timer_t *t)
{
	struct server *srv = t->data;
	uint64_t limit = (uint64_t)srv->cfg.limits.handshake_timeout_s * 1000000000u;
	uint64_t now = server_now_ns();
	struct conn *c;

	TAILQ_FOREACH(c, &srv->conns, link) {
		if (now - c->connected_ns < limit)
			break;
		if (!c->hello_done && !c->dead) {
			struct proto_msg req = { .op = PROTO_OP_HELLO }, rep;

			proto_make_error(&rep, &req, PROTO_E_PROTO, "no HELLO in time");
			conn_send(c, &rep, -1);
			conn_fail(c, "no HELLO in time");
		}
	}
}

static void on_accept_retry(uv_timer_t *t)
{
	struct server *srv = t->data;

	uv_poll_start(&srv->listen_poll, UV_READABLE, on_listen);
}

static void on_reap(uv_idle_t *h)
{
	struct server *srv = h->data;
	struct conn *c;

	while ((c = TAILQ_FIRST(&srv->dead_conns))) {
		TAILQ_REMOVE(&srv->dead_conns, c, dead_link);
		server_drop_conn_grants(srv, c);
		conn_close(c);
		if (c->announced) /* c stays valid until the close callback */
			event_client(srv, PROTO_EV_CLIENT_DISCONNECTED, c);
	}
	/* Settling may fail connections (a send error): they are reaped next iteration. */
	server_settle_segments(srv);
	if (TAILQ_EMPTY(&srv->dead_conns) && TAILQ_EMPTY(&srv->unsettled))
		uv_idle_stop(h);
}

void server_schedule_reap(struct server *srv)
{
	uv_idle_start(&srv->reaper, on_reap);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;

	log_notice("received %s, shutting down", strsignal(signum));
	uv_stop(srv->loop);
}

int server_init(struct server *srv, uv_loop_t *loop, const struct server_config *cfg)
{
	int r;

	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->cfg = *cfg;
	srv->listen_fd = -1;
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->dead_conns);
	TAILQ_INIT(&srv->all_segments);
	TAILQ_INIT(&srv->all_grants);
	TAILQ_INIT(&srv->unsettled);
	TAILQ_INIT(&srv->revoked);
	TAILQ_INIT(&srv->creates);
	srv->fd_budget = fd_budget(&cfg->limits);
	srv->started_ns = server_realtime_ns();
	srv->started_mono_ns = server_now_ns();
	if (cfg->socket_path)
		r = snprintf(srv->socket_path, sizeof(srv->socket_path), "%s", cfg->socket_path) <
				    (int)sizeof(srv->socket_path) ? 0 : -ENAMETOOLONG;
	else
		r = proto_default_socket_path(srv->socket_path, sizeof(srv->socket_path));
	if (r < 0) {
		log_err("socket path too long (at most %zu bytes)", sizeof(srv->socket_path) - 1);
		return r;
	}
	srv->rxbuf = malloc(srv->cfg.limits.max_message);
	if (!srv->rxbuf)
		return -ENOMEM;
	r = listen_socket(srv);
	if (r < 0)
		goto fail;
	snprintf(srv->shm_prefix, sizeof(srv->shm_prefix), "/shmbuf.%08x.",
		 path_tag(srv->socket_path) ^ (uint32_t)geteuid());
	remove_stale_objects(srv);
	if (getrandom(&srv->instance, sizeof(srv->instance), 0) != sizeof(srv->instance))
		srv->instance = (uint64_t)getpid() << 32 ^ srv->started_ns; /* no entropy yet: still unique */

	uv_poll_init(loop, &srv->listen_poll, srv->listen_fd);
	srv->listen_poll.data = srv;
	uv_poll_start(&srv->listen_poll, UV_READABLE, on_listen);
	uv_timer_init(loop, &srv->accept_retry);
	srv->accept_retry.data = srv;
	uv_timer_init(loop, &srv->handshakes);
	srv->handshakes.data = srv;
	/* Checked a few times per timeout: a silent client goes within 1.25 timeouts. */
	uv_timer_start(&srv->handshakes, on_handshakes, cfg->limits.handshake_timeout_s * 250u,
		       cfg->limits.handshake_timeout_s * 250u);
	uv_unref((uv_handle_t *)&srv->handshakes);
	uv_idle_init(loop, &srv->reaper);
	srv->reaper.data = srv;
	uv_signal_init(loop, &srv->sig_term);
	srv->sig_term.data = srv;
	uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
	uv_signal_init(loop, &srv->sig_int);
	srv->sig_int.data = srv;
	uv_signal_start(&srv->sig_int, on_signal, SIGINT);
	log_notice("shmbufd %s listening on %s (limits: %llu bytes, %u segments, %u clients, %u leases per client)",
		   SHMBUF_VERSION_STR, srv->socket_path, (unsigned long long)cfg->limits.max_bytes,
		   cfg->limits.max_segments, cfg->limits.max_connections, cfg->limits.max_leases);
	return 0;
fail:
	free(srv->rxbuf);
	srv->rxbuf = NULL;
	return r;
}

void server_deinit(struct server *srv)
{
	struct segment *seg, *next;
	struct conn *c;

	/* Every connection goes the way a vanished client does: its grants end,
	 * and nobody waiting is granted anything on the way out. */
	srv->stopping = true;
	request_cancel_creates(srv);
	while ((c = TAILQ_FIRST(&srv->dead_conns)))
		TAILQ_REMOVE(&srv->dead_conns, c, dead_link);
	while ((c = TAILQ_FIRST(&srv->conns))) {
		server_drop_conn_grants(srv, c);
		conn_close(c);
	}
	server_settle_segments(srv); /* frees the destroyed segments */
	/* Only live segments are left (destroyed ones went with their last grant),
	 * and those a grow job still holds: unlinked now, freed when it is done. */
	for (seg = TAILQ_FIRST(&srv->all_segments); seg; seg = next) {
		next = TAILQ_NEXT(seg, order_link);
		if (!seg->destroyed)
			HASH_DEL(srv->segments, seg);
		segment_unlink(seg);
		if (seg->refs == 0) {
			TAILQ_REMOVE(&srv->all_segments, seg, order_link);
			segment_free(seg);
		}
	}
	uv_close((uv_handle_t *)&srv->listen_poll, NULL);
	uv_close((uv_handle_t *)&srv->accept_retry, NULL);
	uv_close((uv_handle_t *)&srv->handshakes, NULL);
	uv_close((uv_handle_t *)&srv->reaper, NULL);
	uv_close((uv_handle_t *)&srv->sig_term, NULL);
	uv_close((uv_handle_t *)&srv->sig_int, NULL);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->socket_is_ours)
		unlink(srv->socket_path);
	free(srv->rxbuf);
	srv->rxbuf = NULL;
}
