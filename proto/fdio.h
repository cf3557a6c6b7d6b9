/* SPDX-License-Identifier: MIT */
/* fdio.h: send and receive one datagram with at most one file descriptor
 * (SCM_RIGHTS) over a SOCK_SEQPACKET Unix socket. Used by both sides. */
#ifndef SHMBUF_FDIO_H
#define SHMBUF_FDIO_H

/* Prefixed for libshmbuf.a's sake, as in proto.h. */
#define fdio_send shmbuf__fdio_send
#define fdio_recv shmbuf__fdio_recv
#define fdio_recv_reply shmbuf__fdio_recv_reply

#include <stddef.h>
#include <stdint.h>

/* Send len bytes as one datagram, with fd attached when fd >= 0.
 * Never raises SIGPIPE (MSG_NOSIGNAL). Returns 0, or a negative errno
 * (-EAGAIN on a non-blocking socket that is full, -EPIPE/-ECONNRESET when
 * the peer is gone). A datagram is sent whole or not at all. */
int fdio_send(int sock, const uint8_t *buf, size_t len, int fd);

/* Receive one datagram into buf (capacity cap). Returns the datagram's length
 * (>= 0; 0 with no error means the peer closed the connection, since shmbuf
 * never sends empty datagrams), or a negative errno:
 *   -EAGAIN     nothing to read on a non-blocking socket
 *   -EMSGSIZE   the datagram was larger than cap (it is consumed and lost)
 *   -EBADMSG    the datagram carried more than one fd, or a control message
 *               other than SCM_RIGHTS, or the control data was truncated
 * Received fds are always opened close-on-exec. On success *fd is the
 * received fd or -1. On any error every received fd has been closed and *fd is -1. */
long fdio_recv(int sock, uint8_t *buf, size_t cap, int *fd);

/* What fdio_recv_reply() stores in *fd when the datagram's fd could not be
 * installed because this process is out of descriptors (MSG_CTRUNC, none received). */
#define FDIO_FD_LOST (-2)

/* fdio_recv() for replies from the daemon, which never sends more than one fd:
 * a datagram whose fd the kernel could not install is still returned, with
 * *fd == FDIO_FD_LOST, so the client can answer "out of fds" for that call
 * instead of losing the whole connection. */
long fdio_recv_reply(int sock, uint8_t *buf, size_t cap, int *fd);

#endif
