/* SPDX-License-Identifier: MIT */
/* dispatch.h: from a received datagram to its handler: decoding, the HELLO handshake,
 * and the one switch that maps each opcode to its handle_<op>(). */
#ifndef SHMBUFD_DISPATCH_H
#define SHMBUFD_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"

/* Handle one datagram from cl (len bytes; fd >= 0 if one came with it, taken). */
void dispatch_datagram(struct client *cl, const uint8_t *buf, size_t len, int fd);
/* Answer a datagram the connection could not take (-EMSGSIZE or -EBADMSG, see conn_ops). */
void dispatch_bad_datagram(struct client *cl, int err);

#endif
