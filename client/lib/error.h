/* SPDX-License-Identifier: MIT */
/* error.h: the daemon's words for this thread's last failed call. Private. */
#ifndef SHMBUF_ERROR_H
#define SHMBUF_ERROR_H

#define error_detail shmbuf__error_detail
#define error_clear shmbuf__error_clear
#define error_from_reply shmbuf__error_from_reply
#define error_local shmbuf__error_local

#include "proto.h"

/* What shmbuf_last_error_detail() returns. */
extern _Thread_local char error_detail[PROTO_ERRMSG_MAX + 1];

/* Forgets the last failure's words: every public call starts with this. */
void error_clear(void);

/* 0 for a success reply; else keeps the daemon's message for
 * shmbuf_last_error_detail() and returns the status as a negative errno. */
int error_from_reply(const struct proto_msg *m);

/* A failure found before sending: keeps fmt's words for shmbuf_last_error_detail(),
 * as the daemon's would be, and returns err. */
int error_local(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
