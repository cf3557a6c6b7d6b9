/* quota.c: accounting of bytes, segments and connections (per uid) against the limits. */
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

void quota_conn(struct quota *q, uid_t uid, int delta)
{
	q->n_conns += (uint32_t)delta;
	quota_user_conns(q, uid, delta);
}

bool quota_conns_are_full(const struct quota *q)
{
	return q->n_conns >= q->limits->max_connections;
}

uint32_t quota_user_conns(struct quota *q, uid_t uid, int delta)
{
	struct quota_user *u = NULL;

	HASH_FIND(hh, q->users, &uid, sizeof(uid), u);
	if (!u && delta <= 0)
		return 0;
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return UINT32_MAX; /* counts as over any limit: refused */
		u->uid = uid;
		HASH_ADD(hh, q->users, uid, sizeof(u->uid), u);
	}
	u->count += (uint32_t)delta;
	if (u->count == 0) {
		HASH_DEL(q->users, u);
		free(u);
		return 0;
	}
	return u->count;
}

bool quota_user_is_over(struct quota *q, uid_t uid)
{
	/* Root is exempt: it can stop the daemon anyway, and tools run as root. */
	return uid != 0 && quota_user_conns(q, uid, 0) > q->limits->max_user_connections;
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

void quota_bytes_change(struct quota *q, uint64_t from, uint64_t to)
{
	q->bytes = q->bytes - from + to; /* modulo 2^64: right whichever is larger */
}

void quota_segment(struct quota *q, uint64_t size, int delta)
{
	if (delta > 0) {
		q->bytes += size;
		q->n_segments++;
	} else {
		q->bytes -= size;
		q->n_segments--;
	}
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
