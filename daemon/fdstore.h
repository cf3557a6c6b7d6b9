/* SPDX-License-Identifier: MIT */
/* fdstore.h: systemd's file descriptor store: each live segment's O_RDWR fd is handed to the
 * service manager (FDSTORE=1, FDNAME=seg-<object>) and comes back at the next start through
 * LISTEN_FDS/LISTEN_FDNAMES, so a segment outlives a lost state record or object name.
 * Every function is a no-op without libsystemd, and the store is used only with --fd-store
 * (or $FDSTORE set by systemd >= 254) and $NOTIFY_SOCKET. */
#ifndef SHMBUFD_FDSTORE_H
#define SHMBUFD_FDSTORE_H

#include <stdbool.h>

struct server;
struct segment;

/* A descriptor systemd passed back from the store. */
struct fdstore_fd {
	int fd;              /* -1 once taken */
	char object[64];     /* the shm object it was stored for: "/shmbuf.<tag>.<instance>.<n>" */
};

/* Take what systemd passed (once, at start): stored segment fds into srv->stored, the rest
 * (sockets) counted. Returns how many sockets were passed, the first in *socket_fd, or a
 * negative errno. Decides srv->uses_fd_store. */
int fdstore_take(struct server *srv, int *socket_fd);

/* The stored fd of object, taken out of srv->stored (the caller owns it), or -1. */
int fdstore_claim(struct server *srv, const char *object);

/* Hand seg's fd to the store / ask the store to drop it (by its object's name). */
void fdstore_add(struct server *srv, const struct segment *seg);
void fdstore_remove(struct server *srv, const char *object);

/* Close what nobody claimed (and drop it from the store), and free the list. */
void fdstore_release_unclaimed(struct server *srv);

#endif
