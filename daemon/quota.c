/* SPDX-License-Identifier: MIT */
/* quota.c: accounting of bytes, segments, connections and leases, daemon-wide and per uid, against the limits. */
#define _GNU_SOURCE
#include "quota.h"

#include <stdlib.h>
#include <sys/resource.h>

#include "log.h"

void quota_init(struct quota *q, const struct server_limits *limits)
{
	*q = (struct quota){ .limits = limits };
}

void quota_deinit(struct quota *q)
{
	struct quota_user *u, *tmp;

	HASH_ITER(hh, q->users, u, tmp) {
		HASH_DEL(q->users, u);
		free(u);
	}
}

struct quota_user *quota_user_find(const struct quota *q, uid_t uid)
{
	struct quota_user *u = NULL;

	HASH_FIND(hh, q->users, &uid, sizeof(uid), u);
	return u;
}

/* uid's record, made when missing; NULL when out of memory. */
static struct quota_user *user_get(struct quota *q, uid_t uid)
{
	struct quota_user *u = quota_user_find(q, uid);

	if (u)
		return u;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->uid = uid;
	HASH_ADD(hh, q->users, uid, sizeof(u->uid), u);
	return u;
}

/* Forget u once it uses nothing. */
static void user_put(struct quota *q, struct quota_user *u)
{
	if (u->count || u->segments || u->leases || u->bytes)
		return;
	HASH_DEL(q->users, u);
	free(u);
}

struct quota_user *quota_user_get(struct quota *q, uid_t uid)
{
	return user_get(q, uid);
}

void quota_user_put(struct quota *q, uid_t uid)
{
	struct quota_user *u = quota_user_find(q, uid);

	if (u)
		user_put(q, u);
}

void quota_conn(struct quota *q, uid_t uid, int delta)
{
	q->n_conns += (uint32_t)delta;
	quota_user_conns(q, uid, delta);
}

uint32_t quota_conn_reserve(const struct server_limits *limits)
{
	uint32_t r = limits->max_connections / 16;

	if (limits->max_connections < 2)
		return 0;
	return r < 1 ? 1 : r > 16 ? 16 : r;
}

bool quota_conns_are_full(const struct quota *q, bool is_exempt)
{
	uint32_t max = q->limits->max_connections;

	return q->n_conns >= (is_exempt ? max : max - quota_conn_reserve(q->limits));
}

uint32_t quota_user_conns(struct quota *q, uid_t uid, int delta)
{
	struct quota_user *u = delta > 0 ? user_get(q, uid) : quota_user_find(q, uid);

	if (!u)
		return delta > 0 ? UINT32_MAX : 0; /* out of memory: counts as over any limit */
	u->count += (uint32_t)delta;
	if (delta < 0)
		user_put(q, u);
	return delta < 0 ? 0 : u->count;
}

bool quota_user_is_over(struct quota *q, uid_t uid, bool is_exempt)
{
	/* Root and the daemon are exempt: they can stop the daemon anyway, and tools run as root. */
	return !is_exempt && quota_user_conns(q, uid, 0) > q->limits->max_user_connections;
}

bool quota_user_segments_are_full(const struct quota *q, uid_t uid)
{
	const struct quota_user *u = quota_user_find(q, uid);

	return u && u->segments >= q->limits->user_max_segments;
}

bool quota_user_bytes_would_exceed(const struct quota *q, uid_t uid, uint64_t n)
{
	const struct quota_user *u = quota_user_find(q, uid);
	uint64_t total;

	return __builtin_add_overflow(u ? u->bytes : 0, n, &total) || total > q->limits->user_max_bytes;
}

bool quota_user_leases_are_full(const struct quota_user *u, const struct server_limits *limits)
{
	return u && u->leases >= limits->user_max_leases;
}

bool quota_others_would_exceed(const struct quota *q, int segments, uint64_t n)
{
	const struct server_limits *l = q->limits;
	uint64_t total;

	if (segments && q->n_segments + (uint32_t)segments > l->max_segments - l->max_segments / 16)
		return true;
	return __builtin_add_overflow(q->bytes, n, &total) || total > l->max_bytes - l->max_bytes / 16;
}

void quota_lease(struct quota_user *u, int delta)
{
	if (u)
		u->leases += (uint32_t)delta;
}

bool quota_segments_are_full(const struct quota *q)
{
	return q->n_segments >= q->limits->max_segments;
}

bool quota_bytes_would_exceed(const struct quota *q, uint64_t n)
{
	uint64_t total;

	return __builtin_add_overflow(q->bytes, n, &total) || total > q->limits->max_bytes;
}

void quota_bytes_change(struct quota *q, uid_t uid, uint64_t from, uint64_t to)
{
	struct quota_user *u = quota_user_find(q, uid);

	q->bytes = q->bytes - from + to; /* modulo 2^64: right whichever is larger */
	if (u) {
		u->bytes = u->bytes - from + to;
		user_put(q, u);
	}
}

void quota_segment(struct quota *q, uid_t uid, uint64_t size, int delta)
{
	/* The owner is connected at create (or was given it by root, who
	 * charged it then): a record that cannot be made only loses the charge. */
	struct quota_user *u = delta > 0 ? user_get(q, uid) : quota_user_find(q, uid);

	if (delta > 0) {
		q->bytes += size;
		q->n_segments++;
	} else {
		q->bytes -= size;
		q->n_segments--;
	}
	if (!u)
		return;
	if (delta > 0) {
		u->bytes += size;
		u->segments++;
	} else {
		u->bytes -= size;
		u->segments--;
		user_put(q, u);
	}
}

void quota_segment_moves(struct quota *q, uid_t from, uid_t to, uint64_t size)
{
	if (from == to)
		return;
	quota_segment(q, from, size, -1);
	quota_segment(q, to, size, +1);
}

/* A quarter of what we may open, the rest being for segments (two each) and connections. */
uint32_t quota_fd_budget(const struct server_limits *lim)
{
	struct rlimit rl;
	uint64_t max = 1024, need;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur;
	need = 2ull * lim->max_segments + lim->max_connections + 64;
	if (need > max)
		log_warn("RLIMIT_NOFILE is %llu but the limits allow %llu segments (two fds each) and %u "
			 "clients: creates may fail with LIMIT before --max-segments",
			 (unsigned long long)max, (unsigned long long)lim->max_segments, lim->max_connections);
	return (uint32_t)(max / 4 > UINT32_MAX ? UINT32_MAX : max / 4);
}
