/* SPDX-License-Identifier: MIT */
/* restore.c: adopting a previous run's segments at start, and removing stale objects.
 *
 * What decides is the state record (persist.c):
 * - a valid record: its segments are adopted when their object (or the fd systemd kept for
 *   it) is there and is ours; prefixed objects it does not name are a crashed run's
 *   half-made creates, never acknowledged to anyone, and are removed (kept as recovered
 *   segments instead when the record's last change was cut short);
 * - no record, or a torn one (moved aside to .corrupt): nothing can tell a stale object
 *   from a live one, so none is removed: every prefixed object and every fd the store kept
 *   becomes a segment "recovered.<object>" (owner the daemon, mode 0600), for an operator
 *   to look at and destroy;
 * - --fresh: everything prefixed goes, and the record starts empty. */
#define _GNU_SOURCE
#include "restore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdstore.h"
#include "log.h"
#include "persist.h"
#include "server.h"

/* What a segment is adopted from: its record (or a made-up one) and its open object. */
struct found {
	int fd_rw, fd_ro;
	uint64_t size;
};

static bool is_same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Open object (by name, or through the fd the store kept, which wins: it is the memory
 * clients mapped). 0, -ENOENT when neither is there, -EPERM when it is not ours. */
static int open_object(struct server *srv, const char *object, struct found *f)
{
	int stored = fdstore_claim(srv, object), named = shm_open(object, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
	char path[64];
	struct stat st;

	if (named >= 0 && stored >= 0 && !is_same_file(named, stored)) {
		log_warn("%s is not the object systemd kept for it; adopting the kept one", object);
		close(named);
		named = -1;
	}
	f->fd_rw = stored >= 0 ? stored : named;
	if (stored >= 0 && named >= 0)
		close(named);
	if (f->fd_rw < 0)
		return -ENOENT;
	if (fstat(f->fd_rw, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(f->fd_rw);
		return -EPERM;
	}
	fchmod(f->fd_rw, 0600); /* as segment_open() made it */
	f->size = (uint64_t)st.st_size;
	/* Through /proc the twin opens even when the name is gone (only the store kept it). */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd_rw);
	f->fd_ro = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd_ro < 0)
		f->fd_ro = shm_open(object, O_RDONLY | O_CLOEXEC, 0);
	if (f->fd_ro < 0) {
		int r = -errno;

		close(f->fd_rw);
		return r;
	}
	return 0;
}

/* A segment from rec and the object found for it; takes f's fds. */
static int adopt(struct server *srv, const struct persist_rec *rec, struct found *f)
{
	struct segment *seg = NULL, *dup = NULL;
	int r = 0;

	HASH_FIND_STR(srv->segments, rec->name, dup);
	if (f->size == 0 || dup || (r = segment_alloc(rec->name, f->size, &seg)) < 0) {
		close(f->fd_rw);
		close(f->fd_ro);
		return dup ? -EEXIST : f->size == 0 ? -EINVAL : r;
	}
	seg->fd_rw = f->fd_rw;
	seg->fd_ro = f->fd_ro;
	seg->id = rec->id;
	seg->mode = rec->mode;
	seg->uid = rec->uid;
	seg->gid = rec->gid;
	seg->created_ns = rec->created_ns ? rec->created_ns : seg->created_ns;
	snprintf(seg->shm_name, sizeof(seg->shm_name), "%s", rec->shm_name);
	HASH_ADD_STR(srv->segments, name, seg);
	TAILQ_INSERT_TAIL(&srv->all_segments, seg, order_link);
	quota_segment(&srv->quota, seg->uid, seg->size, +1); /* charged to its recorded owner */
	sizewatch_add(&srv->sizewatch, seg);
	if (srv->next_segment_id < seg->id)
		srv->next_segment_id = seg->id;
	return 0;
}

/* Write generations are not recorded (one line per write lease would cost every
 * release a write()), so what each range's generation was is lost with the
 * daemon. So that an acquire_newer(after = N) from before the restart can never
 * miss a frame, every adopted segment counts as written anew, by a generation
 * above any a previous run can have reached: starts << 40 (a run would need 2^40
 * write leases on one segment to get there). A consumer then sees one frame
 * again, at worst, never skips one. */
static void stamp_generations(struct server *srv)
{
	uint64_t gen = srv->starts << 40;
	struct segment *seg;

	for (seg = TAILQ_FIRST(&srv->all_segments); seg; seg = TAILQ_NEXT(seg, order_link)) {
		seg->generation = gen;
		genmap_record(&seg->gens, 0, seg->size, gen);
	}
}

static bool has_our_prefix(const struct server *srv, const char *object)
{
	return strncmp(object, srv->shm_prefix, strlen(srv->shm_prefix)) == 0;
}

/* The record's segments, in its (id) order. Returns how many were lost. */
static unsigned adopt_recorded(struct server *srv, const struct persist_state *st)
{
	unsigned lost = 0;

	for (size_t i = 0; i < st->n; i++) {
		const struct persist_rec *rec = &st->recs[i];
		struct found f;
		int r = has_our_prefix(srv, rec->shm_name) ? open_object(srv, rec->shm_name, &f) : -EPERM;

		if (r == 0 && f.size != rec->size)
			log_warn("segment '%s' is %" PRIu64 " bytes, recorded as %" PRIu64 " (a resize under way at "
				 "the crash); keeping what is there",
				 rec->name, f.size, rec->size);
		if (r == 0)
			r = adopt(srv, rec, &f);
		if (r < 0) {
			log_warn("segment '%s' (%s) is lost: %s", rec->name, rec->shm_name,
				 r == -ENOENT ? "its object is gone" : r == -EPERM ? "its object is not ours" :
				 strerror(-r));
			lost++;
		}
	}
	return lost;
}

/* An object no record names, adopted as "recovered.<object>" (owner: the daemon, 0600). */
static int recover(struct server *srv, const char *object)
{
	struct persist_rec rec = { .id = srv->next_segment_id + 1, .mode = 0600, .uid = geteuid(), .gid = getegid() };
	struct found f;
	int r;

	snprintf(rec.shm_name, sizeof(rec.shm_name), "%s", object);
	snprintf(rec.name, sizeof(rec.name), "recovered.%s", object + 1);
	r = open_object(srv, object, &f);
	if (r == 0)
		r = adopt(srv, &rec, &f);
	if (r == 0)
		log_warn("no record names %s: kept as segment '%s' (%" PRIu64 " bytes)", object, rec.name, f.size);
	return r;
}

/* Owned by our uid: as root, an object of another user that took our prefix is not ours
 * to remove or adopt. */
static bool is_ours(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid();
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The objects of the live segments, sorted, for bsearch. */
static const char **adopted_objects(struct server *srv, size_t *n)
{
	const char **v = calloc(HASH_COUNT(srv->segments) + 1, sizeof(*v));
	struct segment *seg;

	*n = 0;
	if (!v)
		return NULL;
	TAILQ_FOREACH(seg, &srv->all_segments, order_link)
		v[(*n)++] = seg->shm_name;
	qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

/* The prefixed objects in /dev/shm that no segment uses: removed (remove) or adopted as
 * "recovered.<object>". Returns how many. */
static int sweep_unnamed(struct server *srv, bool remove)
{
	size_t n_named, plen = strlen(srv->shm_prefix) - 1;
	const char **named = adopted_objects(srv, &n_named), *key;
	DIR *dir = opendir("/dev/shm");
	struct dirent *d;
	int count = 0;

	if (!named || !dir) {
		free(named);
		if (dir)
			closedir(dir);
		return named ? 0 : -ENOMEM;
	}
	while ((d = readdir(dir))) {
		char object[SEGMENT_SHM_NAME_MAX + 1];

		if (strncmp(d->d_name, srv->shm_prefix + 1, plen) != 0 || strlen(d->d_name) >= SEGMENT_SHM_NAME_MAX - 1)
			continue;
		snprintf(object, sizeof(object), "/%s", d->d_name);
		key = object;
		if (bsearch(&key, named, n_named, sizeof(*named), cmp_str) || !is_ours(dirfd(dir), d->d_name))
			continue;
		if (remove ? shm_unlink(object) == 0 : recover(srv, object) == 0)
			count++;
	}
	closedir(dir);
	free(named);
	return count;
}

/* Everything prefixed goes: started with --fresh. */
static void start_fresh(struct server *srv)
{
	int n;

	for (size_t i = 0; i < srv->n_stored; i++)
		fdstore_remove(srv, srv->stored[i].object);
	n = sweep_unnamed(srv, true);
	if (n > 0)
		log_notice("--fresh: removed %d shared-memory objects of a previous run on this socket", n);
}

/* No usable record: keep every object and stored fd there is. */
static void recover_all(struct server *srv)
{
	for (size_t i = 0; i < srv->n_stored; i++)
		if (srv->stored[i].fd >= 0 && has_our_prefix(srv, srv->stored[i].object))
			recover(srv, srv->stored[i].object);
	sweep_unnamed(srv, false);
}

int restore_segments(struct server *srv)
{
	struct persist_state st;
	unsigned lost = 0;
	int r = persist_load(srv, &st);

	if (r == -ENOMEM)
		return r;
	if (srv->cfg.fresh) {
		/* Empty, but ids go on: a client's kept mapping claims a segment by its id, and an
		 * id given again to another segment would have it claim the wrong memory. */
		if (r == 0) {
			srv->starts = st.starts;
			srv->next_segment_id = st.next_segment_id;
			persist_state_free(&st);
		}
		start_fresh(srv);
	} else if (r == 0) {
		srv->starts = st.starts;
		srv->next_segment_id = st.next_segment_id;
		lost = adopt_recorded(srv, &st);
		persist_state_free(&st);
		/* After a torn change, an object the record does not name may be what it was
		 * about: kept (as recovered.<object>) rather than guessed stale. */
		r = sweep_unnamed(srv, !st.is_suspect);
		if (r > 0 && !st.is_suspect)
			log_notice("removed %d shared-memory objects no record names (creates cut short)", r);
	} else {
		if (r != -ENOENT && r != -EBADMSG)
			log_warn("cannot read the state records %s.*.state: %s", srv->state_path, strerror(-r));
		else if (r == -EBADMSG)
			log_warn("no whole state record: adopting what the objects and the fd store hold");
		recover_all(srv);
	}
	fdstore_release_unclaimed(srv);
	srv->starts++;
	stamp_generations(srv);
	if (HASH_COUNT(srv->segments) || lost)
		log_notice("start %" PRIu64 " on this socket: adopted %u segments (%" PRIu64 " bytes), %u lost",
			   srv->starts, HASH_COUNT(srv->segments), srv->quota.bytes, lost);
	return persist_save(srv);
}
