/* SPDX-License-Identifier: MIT */
/* bench_shmbuf.h: the only door from the benchmark to libshmbuf. Every libshmbuf call the
 * benchmark makes is in bench_shmbuf.c, so an API change is adapted there and nowhere else. */
#ifndef BENCH_SHMBUF_H
#define BENCH_SHMBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct sb_client sb_client;

/* A leased view: data/len are what the benchmark touches; the rest is the library's. */
typedef struct sb_view {
	void *data;
	size_t len;
	uint64_t generation; /* the range's write generation when granted */
	unsigned char priv[64];
} sb_view;

/* All return 0 or a negative errno, as libshmbuf does. timeout_ms as for shmbuf_acquire(). */
int sb_connect(const char *socket_path, sb_client **out);
void sb_disconnect(sb_client *c);
int sb_create(sb_client *c, const char *name, uint64_t size);
int sb_destroy(sb_client *c, const char *name);
int sb_acquire(sb_client *c, const char *name, uint64_t offset, uint64_t length, int write, int timeout_ms,
	       sb_view *out);
/* shmbuf_acquire_newer(): granted once the range's generation is above after. */
int sb_acquire_newer(sb_client *c, const char *name, uint64_t offset, uint64_t length, int write, uint64_t after,
		     int timeout_ms, sb_view *out);
int sb_release(sb_client *c, sb_view *v);
/* Acquire requests waiting on the segment now (>= 0), or a negative errno. */
int sb_waiters(sb_client *c, const char *name);
/* The segment's generation (write leases ended on it), or a negative errno. */
int64_t sb_generation(sb_client *c, const char *name);
const char *sb_strerror(int err);

#endif
