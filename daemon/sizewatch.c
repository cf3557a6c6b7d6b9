/* SPDX-License-Identifier: MIT */
/* sizewatch.c: inotify on segments' objects; a change of size or allocation by a client is put
 * back at once and blamed on the clients that hold a writable fd of it. */
#define _GNU_SOURCE
#include "sizewatch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "segment.h"

struct sizewatch_entry {
	int wd;
	struct segment *seg;
	UT_hash_handle hh;
};

int sizewatch_check(struct sizewatch *w, struct segment *seg)
{
	char who[400];
	uint64_t found = 0;
	int r;

	/* A grow reserves past the end on a worker thread; a pending one has no object yet. */
	if (seg->is_growing || seg->is_pending || seg->fd_rw < 0)
		return 0;
	r = segment_restore_size(seg, &found);
	if (r < 0) {
		log_err("cannot check the size of segment '%s': %s", seg->name, strerror(-r));
		return r;
	}
	if (r == 0)
		return 0;
	w->restores++;
	if (found > seg->size)
		w->grown_bytes += found - seg->size;
	if (w->describe_writers)
		w->describe_writers(seg, who, sizeof(who));
	else
		snprintf(who, sizeof(who), "(unknown)");
	log_warn("segment '%s' (%" PRIu64 " bytes) was changed through a writable fd (found %" PRIu64
		 " bytes, or memory allocated past its end); restored. Holders of its writable fd: %s",
		 seg->name, seg->size, found, who);
	return 1;
}

static void check_all(struct sizewatch *w)
{
	struct sizewatch_entry *e, *tmp;

	HASH_ITER(hh, w->by_wd, e, tmp)
		sizewatch_check(w, e->seg);
}

static void on_events(uv_poll_t *h, int status, int events)
{
	struct sizewatch *w = h->data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	(void)events;
	if (status < 0)
		return;
	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			struct sizewatch_entry *e = NULL;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				check_all(w); /* events were lost: any object may have changed */
				continue;
			}
			HASH_FIND_INT(w->by_wd, &ev->wd, e);
			if (e && (ev->mask & IN_MODIFY))
				sizewatch_check(w, e->seg);
		}
	}
}

int sizewatch_init(struct sizewatch *w, uv_loop_t *loop,
		   void (*describe_writers)(const struct segment *seg, char *buf, size_t cap))
{
	int r;

	*w = (struct sizewatch){ .fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC), .describe_writers = describe_writers };
	if (w->fd < 0) {
		r = -errno;
		log_warn("no inotify (%s): sizes changed through kept writable fds are restored only when a "
			 "write lease ends", strerror(-r));
		return r;
	}
	r = uv_poll_init(loop, &w->poll, w->fd);
	if (r < 0) {
		log_warn("cannot watch segment sizes: %s", uv_strerror(r));
		close(w->fd);
		w->fd = -1;
		return r;
	}
	w->poll.data = w;
	return uv_poll_start(&w->poll, UV_READABLE, on_events);
}

void sizewatch_deinit(struct sizewatch *w)
{
	struct sizewatch_entry *e, *tmp;

	HASH_ITER(hh, w->by_wd, e, tmp) {
		e->seg->watch_wd = 0;
		HASH_DEL(w->by_wd, e);
		free(e);
	}
	if (w->fd < 0)
		return;
	uv_close((uv_handle_t *)&w->poll, NULL);
	close(w->fd); /* libuv stopped polling it in uv_close */
	w->fd = -1;
}

void sizewatch_add(struct sizewatch *w, struct segment *seg)
{
	char path[16 + SEGMENT_SHM_NAME_MAX];
	struct sizewatch_entry *e;
	int wd;

	if (w->fd < 0 || !seg->shm_name[0]) /* a sealed memfd: the kernel keeps its size */
		return;
	snprintf(path, sizeof(path), "/dev/shm%s", seg->shm_name);
	wd = inotify_add_watch(w->fd, path, IN_MODIFY);
	e = wd >= 0 ? calloc(1, sizeof(*e)) : NULL;
	if (!e) {
		if (!w->has_warned)
			log_warn("cannot watch %s (%s): a size changed through a kept writable fd is restored only "
				 "when a write lease ends (raise fs.inotify.max_user_watches)",
				 path, wd < 0 ? strerror(errno) : "out of memory");
		w->has_warned = true;
		if (wd >= 0)
			inotify_rm_watch(w->fd, wd);
		return;
	}
	e->wd = wd;
	e->seg = seg;
	seg->watch_wd = wd;
	HASH_ADD_INT(w->by_wd, wd, e);
}

void sizewatch_remove(struct sizewatch *w, struct segment *seg)
{
	struct sizewatch_entry *e = NULL;

	if (seg->watch_wd <= 0)
		return;
	HASH_FIND_INT(w->by_wd, &seg->watch_wd, e);
	if (e) {
		HASH_DEL(w->by_wd, e);
		free(e);
	}
	if (w->fd >= 0)
		inotify_rm_watch(w->fd, seg->watch_wd);
	seg->watch_wd = 0;
}
