/* SPDX-License-Identifier: MIT */
/* ctl.h: what shmbufctl's files share: parsed arguments, the connection and error reporting,
 * and the output helpers (tables, JSON, sizes, durations, user names, hex dumps). */
#ifndef SHMBUF_CTL_H
#define SHMBUF_CTL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "shmbuf.h"

/* Exit statuses, documented in shmbufctl(1). */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,      /* the operation failed */
	EXIT_USAGE = 2,       /* bad command line */
	EXIT_UNREACHABLE = 3, /* shmbufd cannot be reached, or the connection was lost */
};

/* A command's parsed command line. Which fields a command may see set is
 * decided by its entry in the command table (main.c). */
struct args {
	const char *cmd;          /* command name, for messages */
	const char *socket_path;  /* resolved: --socket, $SHMBUF_SOCKET, or the default */
	bool socket_is_default;   /* neither --socket nor $SHMBUF_SOCKET: the system socket is tried next */
	char **pos;               /* positional arguments */
	int npos;
	bool json, hex, raw, read, write, sealed;
	bool has_mode, has_length, has_fill, has_for;
	unsigned mode;
	uint64_t offset, length;
	uint8_t fill;
	int wait_ms;              /* 0 unless --wait */
	bool has_wait;
	bool wait_newer;          /* --wait-newer[=GEN] */
	bool has_newer_after;     /* GEN given */
	uint64_t newer_after;
	double for_s;
	const char *segment;      /* watch --segment: only this segment's events, else NULL */
	uint32_t event_types;     /* watch --type: bit 1u << type of each type shown; 0: all */
	bool may_wait;            /* waits on purpose (hold, watch, --wait, --wait-newer): the answer
				   * deadline covers only connecting */
};

/* How long shmbufctl waits for shmbufd to answer (connecting, and the whole of a
 * command that does not wait on purpose) before it gives up with EXIT_UNREACHABLE:
 * a stopped or wedged daemon is what one runs a debugging tool on.
 * $SHMBUFCTL_TIMEOUT (seconds; 0: wait as long as it takes) overrides it. */
#define CTL_ANSWER_DEADLINE_S 10

/* Connect to args->socket_path. Returns 0, or prints why (with a hint) and
 * returns EXIT_UNREACHABLE. */
int ctl_connect(const struct args *a, shmbuf_client **out);

/* Print "shmbufctl: CMD: WHAT: reason[: daemon's detail]" (WHAT may be NULL)
 * for err, a negative errno from libshmbuf; returns the exit status for it. */
int ctl_fail(const struct args *a, const char *what, int err);

/* Print "shmbufctl: CMD: message" and return EXIT_FAILED. */
int ctl_failf(const struct args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The commands (ctl_segment.c, ctl_show.c). Each returns an exit status. */
int cmd_status(const struct args *a);
int cmd_list(const struct args *a);
int cmd_leases(const struct args *a);
int cmd_clients(const struct args *a);
int cmd_watch(const struct args *a);
int cmd_create(const struct args *a);
int cmd_destroy(const struct args *a);
int cmd_resize(const struct args *a);
int cmd_read(const struct args *a);
int cmd_write(const struct args *a);
int cmd_hold(const struct args *a);
int cmd_chmod(const struct args *a); /* ctl_owner.c */
int cmd_chown(const struct args *a);
int cmd_users(const struct args *a);

/* ---- waiting through the asynchronous API (ctl_async.c) ---- */

/* Poll the client's descriptor, dispatching, until a signal of set (NULL:
 * none; block them first) arrives (returns 1), seconds pass (0; negative:
 * never), dispatch fails (-ECONNRESET: the connection is lost) or, when once,
 * it dispatched (2). */
int ctl_wait(shmbuf_client *c, const sigset_t *set, double seconds, bool once);

/* shmbuf_acquire() done as an event loop does it: started asynchronously,
 * answered from a poll on the client's descriptor. Returns as shmbuf_acquire(). */
int ctl_acquire(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length, unsigned flags,
		int timeout_ms, shmbuf_view *out);

/* ---- formatting (ctl_format.c) ---- */

/* "64 MiB" when exact, else "1000 B": exact either way. */
void fmt_size(uint64_t n, char *buf, size_t cap);
/* "64 MiB" when exact, else rounded to one decimal: "11.8 GiB". */
void fmt_size_approx(uint64_t n, char *buf, size_t cap);
/* "850ms", "3.2s", "5m10s", "2h05m", "3d04h". */
void fmt_duration(uint64_t ns, char *buf, size_t cap);
/* A CLOCK_REALTIME time in local time: "2024-05-01 12:00:00", or "12:00:00.123" when short. */
void fmt_time(uint64_t realtime_ns, bool short_form, char *buf, size_t cap);
/* The user's name, or NULL when uid has none. Cached; the string stays valid. */
const char *user_name(uid_t uid);
/* The user's name, else the number as text, in buf. */
const char *user_label(uid_t uid, char *buf, size_t cap);
/* Copy s with anything but printable ASCII replaced by '?': what a table may print. */
void printable(const char *s, char *buf, size_t cap);

/* An aligned text table. Cells are added row by row, left to right. */
struct table {
	int ncols;
	const char *const *heads;
	const char *align; /* one 'l' or 'r' per column */
	char **cells;      /* owned, ncols per row */
	size_t ncells, cap;
};

void table_init(struct table *t, int ncols, const char *const *heads, const char *align);
void table_cell(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print heads and rows, columns two spaces apart; the last column is not padded. */
void table_print(const struct table *t, FILE *f);
void table_deinit(struct table *t);

/* A JSON writer: pretty-printed documents, or one compact object per line. */
struct json {
	FILE *f;
	bool pretty;
	int depth;
	bool has_members; /* at the current depth */
};

void json_init(struct json *j, FILE *f, bool pretty);
/* key is NULL inside arrays and at the top. */
void json_open(struct json *j, const char *key, char bracket);  /* '{' or '[' */
void json_close(struct json *j, char bracket);                  /* '}' or ']'; at depth 0 ends the line */
void json_str(struct json *j, const char *key, const char *s);  /* s NULL: null */
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_bool(struct json *j, const char *key, bool v);

/* hexdump -C style, offsets counted from base; runs of identical lines become '*'. */
void hexdump(FILE *f, const uint8_t *p, size_t len, uint64_t base);

#endif
