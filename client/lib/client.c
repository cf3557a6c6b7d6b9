/* SPDX-License-Identifier: MIT */
/* client.c: a client's life: connecting (socket path, HELLO), the fork check,
 * and disconnecting. */
#define _GNU_SOURCE /* secure_getenv */
#include "async.h"
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "demux.h"
#include "error.h"
#include "reconnect.h"

/* getpid() is a system call (glibc no longer caches it), and every call makes
 * this check, twice per acquire and release: the pid is read once and read
 * again in the child of each fork(). Only a child made without the atfork
 * handlers (_Fork(), a raw clone) would go unnoticed, as with vfork() today. */
static pid_t self_pid;
static pthread_once_t self_pid_once = PTHREAD_ONCE_INIT;

static void self_pid_refresh(void)
{
	self_pid = getpid();
}

static void self_pid_init(void)
{
	self_pid_refresh();
	pthread_atfork(NULL, NULL, self_pid_refresh);
}

static pid_t self(void)
{
	pthread_once(&self_pid_once, self_pid_init);
	return self_pid;
}

int client_check_owner(const struct shmbuf_client *c)
{
	if (c->owner == self())
		return 0;
	snprintf(error_detail, sizeof(error_detail),
		 "this client was connected by process %d; after fork() connect a new one", (int)c->owner);
	return -ECONNRESET;
}

int client_copy_name(char dst[PROTO_NAME_MAX + 1], const char *name)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strnlen(name, PROTO_NAME_MAX + 1);
	/* Checked here, not only by the encoder, so that the caller learns from
	 * shmbuf_last_error_detail() what is wrong with the name. */
	if (!proto_name_is_valid(name, len)) {
		snprintf(error_detail, sizeof(error_detail), "invalid segment name: %s",
			 proto_name_problem(name, len, dst, PROTO_NAME_MAX + 1));
		return len > PROTO_NAME_MAX ? -ENAMETOOLONG : -EINVAL;
	}
	memcpy(dst, name, len + 1);
	return 0;
}

void client_copy_out(void *dst, size_t dst_size, const void *src, size_t src_size)
{
	if (dst_size <= src_size) {
		memcpy(dst, src, dst_size);
	} else {
		memcpy(dst, src, src_size);
		memset((char *)dst + src_size, 0, dst_size - src_size);
	}
}

static void client_free(struct shmbuf_client *c)
{
	if (c->sock >= 0)
		close(c->sock);
	async_free(c);
	/* Views point into the cache's mappings: both go at once. The daemon
	 * forgets what we mapped when the connection closes. */
	idtable_deinit(&c->views);
	idtable_deinit(&c->stale);
	free(c->relog.recs);
	mapcache_deinit(&c->cache);
	idtable_deinit(&c->pending);
	free(c->events);
	pthread_cond_destroy(&c->ev_cond);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->send_lock);
	free(c->rbuf);
	free(c);
}

static bool getenv_nonempty(const char *name)
{
	const char *v = secure_getenv(name);

	return v && *v;
}

/* Linux leaves an AF_UNIX socket unconnected when connect() is interrupted
 * (nothing goes on in the background, unlike TCP), so simply try again. */
static int connect_unix(int sock, const struct sockaddr_un *sa)
{
	while (connect(sock, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Event waits have deadlines: measure them on the clock that never jumps. */
static int cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int r;

	if (pthread_condattr_init(&attr) != 0)
		return -ENOMEM;
	r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return r == 0 ? 0 : -ENOMEM;
}

static int client_hello(struct shmbuf_client *c)
{
	struct proto_msg m = { .op = PROTO_OP_HELLO };
	int r;

	m.u.hello.magic = PROTO_MAGIC;
	m.u.hello.min_version = PROTO_VERSION;
	m.u.hello.max_version = PROTO_VERSION;
	r = demux_request(c, &m);
	if (r < 0)
		return r;
	if (m.u.hello_reply.version != PROTO_VERSION)
		return -EPROTONOSUPPORT;
	c->max_message = m.u.hello_reply.max_message;
	return 0;
}

/* A client with its locks and buffers, not connected yet; NULL when out of memory. */
static struct shmbuf_client *client_new(uint64_t page_size)
{
	struct shmbuf_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->sock = -1;
	c->page_size = page_size;
	c->owner = self();
	c->next_seq = 1;
	mapcache_init(&c->cache);
	if (pthread_mutex_init(&c->lock, NULL) != 0)
		goto fail_free;
	if (pthread_mutex_init(&c->send_lock, NULL) != 0)
		goto fail_lock;
	if (cond_init_monotonic(&c->ev_cond) != 0)
		goto fail_send_lock;
	/* From here on client_free() undoes everything. */
	c->rbuf = malloc(PROTO_MAX_MESSAGE);
	if (!c->rbuf) {
		client_free(c);
		return NULL;
	}
	return c;

fail_send_lock:
	pthread_mutex_destroy(&c->send_lock);
fail_lock:
	pthread_mutex_destroy(&c->lock);
fail_free:
	free(c);
	return NULL;
}

int shmbuf_default_socket_path(char *buf, size_t size)
{
	if (!buf || size == 0)
		return -EINVAL;
	return proto_default_socket_path(buf, size);
}

/* Connects c->sock to sa, or, for the default path of a user without a
 * daemon of their own, to the system service's socket. */
static int client_connect_socket(struct shmbuf_client *c, struct sockaddr_un *sa, bool is_default)
{
	int r;

	c->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->sock < 0)
		return -errno;
	r = connect_unix(c->sock, sa);
	if ((r == -ENOENT || r == -ECONNREFUSED) && is_default && strcmp(sa->sun_path, SHMBUF_SYSTEM_SOCKET) != 0 &&
	    !getenv_nonempty("SHMBUF_SOCKET")) {
		/* No per-user daemon: the system service is the next place to look. */
		memcpy(sa->sun_path, SHMBUF_SYSTEM_SOCKET, sizeof(SHMBUF_SYSTEM_SOCKET));
		if (connect_unix(c->sock, sa) == 0)
			r = 0;
	}
	return r;
}

int shmbuf_connect(const char *socket_path, shmbuf_client **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct shmbuf_client *c;
	long page;
	int r;

	error_clear();
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (socket_path) {
		size_t len = strlen(socket_path);

		if (len == 0)
			return error_local(-EINVAL, "the socket path is empty");
		if (len >= sizeof(sa.sun_path))
			return -ENAMETOOLONG;
		memcpy(sa.sun_path, socket_path, len + 1);
	} else {
		r = proto_default_socket_path(sa.sun_path, sizeof(sa.sun_path));
		if (r < 0)
			return r;
	}
	page = sysconf(_SC_PAGESIZE);
	if (page <= 0 || (page & (page - 1)))
		return -EIO;
	c = client_new((uint64_t)page);
	if (!c)
		return -ENOMEM;
	r = client_connect_socket(c, &sa, !socket_path);
	c->addr = sa; /* where a reconnect goes: the system socket when that is where we went */
	reconnect_init(c);
	if (r == 0)
		r = client_hello(c);
	if (r < 0) {
		client_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void shmbuf_disconnect(shmbuf_client *c)
{
	if (c)
		client_free(c);
}
