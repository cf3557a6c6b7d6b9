/* SPDX-License-Identifier: MIT */
/* bench_shmbuf.c: every libshmbuf call of the benchmark (public header only). */
#include "bench_shmbuf.h"

#include <string.h>

#include "shmbuf.h"

_Static_assert(sizeof(shmbuf_view) <= sizeof(((sb_view *)0)->priv), "sb_view.priv too small");

int sb_connect(const char *socket_path, sb_client **out)
{
	return shmbuf_connect(socket_path, (shmbuf_client **)out);
}

void sb_disconnect(sb_client *c)
{
	shmbuf_disconnect((shmbuf_client *)c);
}

int sb_create(sb_client *c, const char *name, uint64_t size)
{
	return shmbuf_create((shmbuf_client *)c, name, size, 0600);
}

int sb_destroy(sb_client *c, const char *name)
{
	return shmbuf_destroy((shmbuf_client *)c, name);
}

int sb_acquire(sb_client *c, const char *name, uint64_t offset, uint64_t length, int write, int timeout_ms,
	       sb_view *out)
{
	shmbuf_view v;
	int r = shmbuf_acquire((shmbuf_client *)c, name, offset, length, write ? SHMBUF_WRITE : SHMBUF_READ,
			       timeout_ms, &v, sizeof(v));

	if (r < 0)
		return r;
	out->data = v.data;
	out->len = v.len;
	out->generation = v.generation;
	memcpy(out->priv, &v, sizeof(v));
	return 0;
}

int sb_acquire_newer(sb_client *c, const char *name, uint64_t offset, uint64_t length, int write, uint64_t after,
		     int timeout_ms, sb_view *out)
{
	shmbuf_view v;
	int r = shmbuf_acquire_newer((shmbuf_client *)c, name, offset, length, write ? SHMBUF_WRITE : SHMBUF_READ,
				     after, timeout_ms, &v, sizeof(v));

	if (r < 0)
		return r;
	out->data = v.data;
	out->len = v.len;
	out->generation = v.generation;
	memcpy(out->priv, &v, sizeof(v));
	return 0;
}

int sb_release(sb_client *c, sb_view *v)
{
	shmbuf_view sv;
	int r;

	memcpy(&sv, v->priv, sizeof(sv));
	r = shmbuf_release((shmbuf_client *)c, &sv, sizeof(sv));
	memset(v, 0, sizeof(*v));
	return r;
}

int sb_waiters(sb_client *c, const char *name)
{
	shmbuf_stat_info st;
	int r = shmbuf_stat((shmbuf_client *)c, name, &st, sizeof(st));

	return r < 0 ? r : (int)st.waiters;
}

int64_t sb_generation(sb_client *c, const char *name)
{
	shmbuf_stat_info st;
	int r = shmbuf_stat((shmbuf_client *)c, name, &st, sizeof(st));

	return r < 0 ? r : (int64_t)st.generation;
}

const char *sb_strerror(int err)
{
	return shmbuf_strerror(err);
}
