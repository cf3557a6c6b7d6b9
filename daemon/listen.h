/* SPDX-License-Identifier: MIT */
/* listen.h: the listening socket: the one systemd passed, or one we create at srv->socket_path. */
#ifndef SHMBUFD_LISTEN_H
#define SHMBUFD_LISTEN_H

#include "server.h"

/* Set srv->listen_fd (non-blocking, close-on-exec) and srv->is_socket_ours;
 * with systemd's socket, srv->socket_path becomes its path. 0 or a negative errno. */
int listen_open(struct server *srv);

#endif
