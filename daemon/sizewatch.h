/* SPDX-License-Identifier: MIT */
/* sizewatch.h: noticing at once that a client changed a segment's object through a writable
 * fd it kept (ftruncate, fallocate, write): inotify IN_MODIFY on each object, whose size is
 * then checked, put back, and the holders of writable fds named. Writes through a mapping
 * raise no event; only changes of size or allocation matter here. */
#ifndef SHMBUFD_SIZEWATCH_H
#define SHMBUFD_SIZEWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>
#include <uv.h>

struct segment;
struct sizewatch_entry;

/* Embedded in the server. Without inotify (fd -1) sizes are still restored
 * when a write lease ends (grant.c). */
struct sizewatch {
	int fd;                          /* inotify, non-blocking; -1: none */
	uv_poll_t poll;
	struct sizewatch_entry *by_wd;   /* watched segments by watch descriptor */
	uint64_t restores;               /* objects put back since start */
	uint64_t grown_bytes;            /* bytes clients added past segments' ends, given back */
	bool has_warned;                 /* about a watch that could not be added */
	/* Names the clients holding seg's writable fd (mapper.c): given by the owner, so
	 * this file needs nothing above segments. */
	void (*describe_writers)(const struct segment *seg, char *buf, size_t cap);
};

/* Start watching (0), or run without (a negative errno, logged; not fatal). */
int sizewatch_init(struct sizewatch *w, uv_loop_t *loop,
		   void (*describe_writers)(const struct segment *seg, char *buf, size_t cap));
/* Stop; the uv handle is closed (the loop must run once more). */
void sizewatch_deinit(struct sizewatch *w);

/* Watch seg's object (by its /dev/shm path) until sizewatch_remove(). */
void sizewatch_add(struct sizewatch *w, struct segment *seg);
void sizewatch_remove(struct sizewatch *w, struct segment *seg);

/* seg's object may have changed behind our back: put its size back and name
 * the clients holding a writable fd. Also what grant.c calls at a write lease's end.
 * Returns 1 when it was restored, 0 when all was right, or a negative errno. */
int sizewatch_check(struct sizewatch *w, struct segment *seg);

#endif
