/* SPDX-License-Identifier: MIT */
/* uv_echo.h: a minimal libuv SOCK_SEQPACKET echo server (the throughput row's reference). */
#ifndef UV_ECHO_H
#define UV_ECHO_H

/* Serve the bound, listening, non-blocking listen_fd until the process is killed. */
int uv_echo_serve(int listen_fd);

#endif
