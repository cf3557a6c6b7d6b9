/* SPDX-License-Identifier: MIT */
/* fdstore.c: segment fds kept by systemd's fd store across restarts (FDSTORE=1). */
#define _GNU_SOURCE
#include "fdstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "server.h"

#define FDNAME_PREFIX "seg-" /* + the object's name without its '/'; a socket unit's name never starts so */

#ifdef HAVE_LIBSYSTEMD
static bool store_is_wanted(const struct server *srv)
{
	const char *notify = getenv("NOTIFY_SOCKET"), *max = getenv("FDSTORE");

	return notify && *notify && (srv->cfg.fd_store || (max && atoi(max) > 0));
}

static int keep_stored(struct server *srv, int fd, const char *name)
{
	struct fdstore_fd *more = realloc(srv->stored, (srv->n_stored + 1) * sizeof(*more));

	if (!more)
		return -ENOMEM;
	srv->stored = more;
	fcntl(fd, F_SETFD, FD_CLOEXEC); /* passed without it: not for whatever we might run */
	more[srv->n_stored].fd = fd;
	snprintf(more[srv->n_stored].object, sizeof(more->object), "/%s", name + strlen(FDNAME_PREFIX));
	srv->n_stored++;
	return 0;
}

int fdstore_take(struct server *srv, int *socket_fd)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), sockets = 0, r = 0;

	srv->uses_fd_store = store_is_wanted(srv);
	*socket_fd = -1;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "";

		if (strncmp(name, FDNAME_PREFIX, strlen(FDNAME_PREFIX)) == 0 && r == 0) {
			r = keep_stored(srv, fd, name);
		} else if (sockets++ == 0) {
			*socket_fd = fd;
		}
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (srv->n_stored)
		log_info("systemd passed back %zu segment descriptors from its fd store", srv->n_stored);
	return r < 0 ? r : n < 0 ? n : sockets;
}

void fdstore_add(struct server *srv, const struct segment *seg)
{
	char msg[128];
	int fd = seg->fd_rw, r;

	if (!srv->uses_fd_store || !seg->shm_name[0])
		return;
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=" FDNAME_PREFIX "%s", seg->shm_name + 1);
	r = sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
	if (r <= 0)
		log_warn("cannot hand segment '%s' to systemd's fd store: %s", seg->name,
			 r < 0 ? strerror(-r) : "no NOTIFY_SOCKET");
}

void fdstore_remove(struct server *srv, const char *object)
{
	if ((srv->uses_fd_store || srv->n_stored) && object[0])
		sd_notifyf(0, "FDSTOREREMOVE=1\nFDNAME=" FDNAME_PREFIX "%s", object + 1);
}
#else
int fdstore_take(struct server *srv, int *socket_fd)
{
	srv->uses_fd_store = false;
	*socket_fd = -1;
	return 0;
}

void fdstore_add(struct server *srv, const struct segment *seg)
{
	(void)srv;
	(void)seg;
}

void fdstore_remove(struct server *srv, const char *object)
{
	(void)srv;
	(void)object;
}
#endif

int fdstore_claim(struct server *srv, const char *object)
{
	for (size_t i = 0; i < srv->n_stored; i++) {
		int fd = srv->stored[i].fd;

		if (fd >= 0 && strcmp(srv->stored[i].object, object) == 0) {
			srv->stored[i].fd = -1;
			return fd;
		}
	}
	return -1;
}

void fdstore_release_unclaimed(struct server *srv)
{
	for (size_t i = 0; i < srv->n_stored; i++) {
		if (srv->stored[i].fd < 0)
			continue;
		fdstore_remove(srv, srv->stored[i].object); /* of a segment destroyed just before a crash */
		close(srv->stored[i].fd);
	}
	free(srv->stored);
	srv->stored = NULL;
	srv->n_stored = 0;
}
