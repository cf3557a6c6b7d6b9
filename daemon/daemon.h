/* SPDX-License-Identifier: MIT */
/* daemon.h: setting up, running and tearing down the server (struct server, server.h). */
#ifndef SHMBUFD_DAEMON_H
#define SHMBUFD_DAEMON_H

#include <uv.h>

#include "server.h"

/* Listen (or take systemd's socket) and start serving on loop. 0 or a negative errno. */
int daemon_init(struct server *srv, uv_loop_t *loop, const struct server_config *cfg);
/* Release everything: leases, connections, the socket. Live segments are closed but not
 * unlinked: their objects and the state record stay for the next start (restore.c). */
void daemon_deinit(struct server *srv);

#endif
