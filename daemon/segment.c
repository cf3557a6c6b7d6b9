/* SPDX-License-Identifier: MIT */
/* segment.c: POSIX shm objects (or sealed memfds) behind segments: create, resize, unlink, size restore. */
#define _GNU_SOURCE
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* posix_fallocate returns the error instead of setting errno. On tmpfs it
 * allocates the pages now, so running out of memory is an error here and not
 * a SIGBUS in whichever client first touches the page. */
static int reserve(int fd, uint64_t from, uint64_t to)
{
	int r;

	if (to <= from)
		return 0;
	do
		r = posix_fallocate(fd, (off_t)from, (off_t)(to - from));
	while (r == EINTR);
	return -r;
}

int segment_alloc(const char *name, uint64_t size, struct segment **out)
{
	struct segment *seg;
	struct timespec ts;

	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	seg = calloc(1, sizeof(*seg));
	if (!seg)
		return -ENOMEM;
	seg->fd_rw = seg->fd_ro = -1;
	strncpy(seg->name, name, sizeof(seg->name) - 1);
	seg->size = size;
	lease_set_init(&seg->leases);
	genmap_init(&seg->gens);
	TAILQ_INIT(&seg->mappers);
	clock_gettime(CLOCK_REALTIME, &ts);
	seg->created_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	*out = seg;
	return 0;
}

int segment_open(struct segment *seg, const char *shm_name, bool prealloc)
{
	int r;

	seg->fd_rw = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (seg->fd_rw < 0)
		return -errno; /* EEXIST: the name is someone else's; touch nothing */
	snprintf(seg->shm_name, sizeof(seg->shm_name), "%s", shm_name);
	/* The umask may have narrowed the mode; the daemon needs exactly 0600. */
	if (fchmod(seg->fd_rw, 0600) < 0 || ftruncate(seg->fd_rw, (off_t)seg->size) < 0) {
		r = -errno;
		goto fail;
	}
	if (prealloc && (r = reserve(seg->fd_rw, 0, seg->size)) < 0)
		goto fail;
	seg->fd_ro = shm_open(shm_name, O_RDONLY | O_CLOEXEC, 0);
	if (seg->fd_ro < 0) {
		r = -errno;
		goto fail;
	}
	return 0;
fail:
	shm_unlink(shm_name);
	close(seg->fd_rw);
	seg->fd_rw = -1;
	seg->shm_name[0] = '\0';
	return r;
}

/* A fixed-size segment: the kernel, not the daemon, keeps its size (F_SEAL_SHRINK,
 * F_SEAL_GROW, then F_SEAL_SEAL so no one adds or removes seals). memfds are made
 * 0777; made 0600 like the /dev/shm objects, a client of another uid cannot
 * reopen its read-only fd writable through /proc. The read-only twin is such a
 * reopening, by us. */
static int open_sealed(struct segment *seg, bool prealloc)
{
	char path[40];
	int r;

	seg->fd_rw = memfd_create("shmbuf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (seg->fd_rw < 0)
		return -errno;
	if (fchmod(seg->fd_rw, 0600) < 0 || ftruncate(seg->fd_rw, (off_t)seg->size) < 0)
		goto fail_errno;
	if (prealloc && (r = reserve(seg->fd_rw, 0, seg->size)) < 0)
		goto fail;
	if (fcntl(seg->fd_rw, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail_errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", seg->fd_rw);
	seg->fd_ro = open(path, O_RDONLY | O_CLOEXEC);
	if (seg->fd_ro < 0)
		goto fail_errno;
	return 0;
fail_errno:
	r = -errno;
fail:
	close(seg->fd_rw);
	seg->fd_rw = -1;
	return r;
}

void segment_unlink(struct segment *seg)
{
	if (!seg->is_destroyed) {
		if (seg->shm_name[0]) /* only an object we created */
			shm_unlink(seg->shm_name);
		seg->is_destroyed = true;
	}
}

void segment_free(struct segment *seg)
{
	if (!seg)
		return;
	segment_unlink(seg);
	lease_set_deinit(&seg->leases);
	genmap_deinit(&seg->gens);
	if (seg->fd_ro >= 0)
		close(seg->fd_ro);
	if (seg->fd_rw >= 0)
		close(seg->fd_rw);
	free(seg);
}

int segment_reserve_beyond(int fd, uint64_t from, uint64_t to)
{
	/* KEEP_SIZE: the pages are there, the size (what clients may map) is not yet. */
	if (to > from && fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)from, (off_t)(to - from)) < 0)
		return -errno;
	return 0;
}

int segment_resize(struct segment *seg, uint64_t size, bool prealloc)
{
	int r;

	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	if (ftruncate(seg->fd_rw, (off_t)size) < 0)
		return -errno;
	if (prealloc && (r = reserve(seg->fd_rw, seg->size, size)) < 0) {
		if (ftruncate(seg->fd_rw, (off_t)seg->size) < 0)
			return -errno;
		return r;
	}
	seg->size = size;
	return 0;
}

int segment_restore_size(struct segment *seg, uint64_t *found_size)
{
	uint64_t pages = (seg->size + 4095) / 4096 * 4096;
	struct stat st;

	if (fstat(seg->fd_rw, &st) < 0)
		return -errno;
	*found_size = (uint64_t)st.st_size;
	/* Memory past the end (fallocate with FALLOC_FL_KEEP_SIZE) leaves the size
	 * alone but still takes pages from /dev/shm; a truncate, even to the same
	 * size, gives them back. */
	if (*found_size == seg->size && (uint64_t)st.st_blocks * 512 <= pages)
		return 0;
	/* Shrunk and grown back, what was cut is a hole now. It is not reserved
	 * again: that could take seconds on the event loop, on every release of a
	 * client that truncates each time. Its pages come back as they are touched. */
	if (ftruncate(seg->fd_rw, (off_t)seg->size) < 0)
		return -errno;
	return 1;
}

bool segment_is_leased(const struct segment *seg)
{
	return !lease_set_is_empty(&seg->leases);
}

int segment_open_fresh(struct segment *seg, const char *prefix, uint64_t instance, uint64_t first, bool prealloc)
{
	char shm_name[SEGMENT_SHM_NAME_MAX];
	int err = -EEXIST;

	if (seg->is_sealed)
		return open_sealed(seg, prealloc);
	for (uint64_t n = first; n < first + SEGMENT_NAME_TRIES && err == -EEXIST; n++) {
		snprintf(shm_name, sizeof(shm_name), "%s%016" PRIx64 ".%" PRIu64, prefix, instance, n);
		err = segment_open(seg, shm_name, prealloc);
		if (err == -EEXIST)
			log_warn("shared-memory object %s already exists (not ours); trying another name", shm_name);
	}
	return err;
}
