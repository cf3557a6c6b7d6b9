/* SPDX-License-Identifier: MIT */
/* async.h: what client.c needs of async.c. Private. */
#ifndef SHMBUF_ASYNC_H
#define SHMBUF_ASYNC_H

#define async_free shmbuf__async_free
#define async_socket_changed shmbuf__async_socket_changed

struct shmbuf_client;

/* At disconnect: close the descriptors and free every operation, pending or
 * completed, without running its callback. */
void async_free(struct shmbuf_client *c);

/* A reconnect put a new socket under c->sock: the epoll set watches it again. */
void async_socket_changed(struct shmbuf_client *c);

#endif
