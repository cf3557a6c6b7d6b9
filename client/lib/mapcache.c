/* SPDX-License-Identifier: MIT */
/* mapcache.c: kept mappings: the (name, mode) index, the LRU bound, retiring
 * entries (replaced, evicted, or unmapped at the daemon's word) and freeing
 * them outside the lock. */
#include "mapcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"

/* ---- lists ---- */

struct dlist {
	struct mc_entry **head, **tail;
};

static void dlist_unlink(struct dlist l, struct mc_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		*l.head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		*l.tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void dlist_push_front(struct dlist l, struct mc_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = *l.head;
	if (*l.head)
		(*l.head)->lru_prev = e;
	else
		*l.tail = e;
	*l.head = e;
}

static struct dlist lru(struct mapcache *mc)
{
	return (struct dlist){ &mc->lru_head, &mc->lru_tail };
}

static struct dlist retired(struct mapcache *mc)
{
	return (struct dlist){ &mc->retired_head, &mc->retired_tail };
}

static struct mc_entry **bucket_of(struct mapcache *mc, const char *name, uint32_t mode)
{
	uint32_t h = 2166136261u ^ mode; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &mc->buckets[h & (MAPCACHE_BUCKETS - 1)];
}

static struct mc_entry *lookup(struct mapcache *mc, const char *name, uint32_t mode)
{
	for (struct mc_entry *e = *bucket_of(mc, name, mode); e; e = e->hnext)
		if (e->mode == mode && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static void bucket_unlink(struct mapcache *mc, struct mc_entry *e)
{
	struct mc_entry **pp = bucket_of(mc, e->name, e->mode);

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	e->hnext = NULL;
}

/* ---- retiring ---- */

static void entry_to_garbage(struct mapcache *mc, struct mc_entry *e)
{
	if (e->fd >= 0)
		mc->count--;
	e->gnext = mc->garbage.entries;
	mc->garbage.entries = e;
}

/* e is found by name no more; it goes once nothing pins it. */
static void entry_retire(struct mapcache *mc, struct mc_entry *e)
{
	bucket_unlink(mc, e);
	e->is_live = false;
	if (e->pins == 0) {
		dlist_unlink(lru(mc), e);
		entry_to_garbage(mc, e);
	} else {
		dlist_push_front(retired(mc), e);
	}
}

/* Back to the bound: the least recently used unpinned entries go. */
static void evict_excess(struct mapcache *mc)
{
	while (mc->count > SHMBUF__CACHE_MAX && mc->lru_tail)
		entry_retire(mc, mc->lru_tail);
}

static void entry_pin(struct mapcache *mc, struct mc_entry *e)
{
	if (e->pins++ == 0 && e->is_live)
		dlist_unlink(lru(mc), e);
}

static void entry_unpin(struct mapcache *mc, struct mc_entry *e)
{
	if (--e->pins > 0)
		return;
	if (e->is_live) {
		dlist_push_front(lru(mc), e);
		evict_excess(mc);
	} else {
		dlist_unlink(retired(mc), e);
		entry_to_garbage(mc, e);
	}
}

/* Records an UNMAP owed for an fd the daemon sent but the client does not keep. */
static void owe_unmap(struct mapcache *mc, uint64_t segment_id, uint32_t mode)
{
	struct mc_entry *e = calloc(1, sizeof(*e));

	/* Out of memory the daemon keeps counting us as a mapper (and the
	 * memory) until we disconnect: nothing worse. */
	if (!e)
		return;
	e->fd = -1;
	e->segment_id = segment_id;
	e->mode = mode;
	e->owes_unmap = true;
	entry_to_garbage(mc, e);
}

/* ---- entries and mappings ---- */

static int map_new(struct mc_entry *e, uint64_t size, struct mc_map **out)
{
	int prot = e->mode == PROTO_ACQ_READ ? PROT_READ : PROT_READ | PROT_WRITE;
	struct mc_map *m;

	if (size == 0 || size > SIZE_MAX)
		return -EOVERFLOW;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	/* The whole object from offset 0: views of any offset fall inside it,
	 * and a READ entry's fd is O_RDONLY, so its PROT_READ holds. */
	m->base = mmap(NULL, (size_t)size, prot, MAP_SHARED, e->fd, 0);
	if (m->base == MAP_FAILED) {
		int r = -errno;

		free(m);
		return r;
	}
	m->len = (size_t)size;
	m->entry = e;
	m->next = e->maps;
	e->maps = m;
	*out = m;
	return 0;
}

/* A new live entry for (name, mode) owning fd (closed on failure), mapped at
 * the reply's segment size. Not yet indexed or counted. */
static int entry_new(const char *name, const struct proto_acquire_reply *a, uint32_t mode, int fd,
		     struct mc_entry **out)
{
	struct mc_entry *e = calloc(1, sizeof(*e));
	struct mc_map *m;
	struct stat st;
	int r;

	if (!e) {
		close(fd);
		return -ENOMEM;
	}
	e->fd = fd;
	e->mode = mode;
	e->segment_id = a->segment_id;
	e->owes_unmap = a->segment_id != 0;
	if (fstat(fd, &st) == 0) {
		e->ino = (uint64_t)st.st_ino;
		e->dev = (uint64_t)st.st_dev;
	}
	strcpy(e->name, name);
	r = map_new(e, a->segment_size, &m);
	if (r < 0) {
		close(fd);
		free(e);
		return r;
	}
	*out = e;
	return 0;
}

static void entry_insert(struct mapcache *mc, struct mc_entry *e)
{
	struct mc_entry **b = bucket_of(mc, e->name, e->mode);

	e->is_live = true;
	e->hnext = *b;
	*b = e;
	mc->count++;
}

/* Does e hold the granted segment? fd (when one came) tells objects apart for
 * a daemon that names no segment ids (id 0). */
static bool entry_holds(const struct mc_entry *e, const struct proto_acquire_reply *a, uint32_t mode, int fd)
{
	struct stat st;

	if (!e || e->mode != mode || e->segment_id != a->segment_id)
		return false;
	if (a->segment_id != 0)
		return true;
	return fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_ino == e->ino && (uint64_t)st.st_dev == e->dev;
}

/* The entry already holding the granted segment: the claimed one, the live one
 * by that name, or a retired one still pinned (a reply that crossed a re-create).
 * fd: the one that came, -1 none (the daemon leaves it out only for what we
 * claimed), FDIO_FD_LOST one came but could not be received. */
static struct mc_entry *find_holder(struct mapcache *mc, struct mc_entry *claim, struct mc_entry *cur,
				    const struct proto_acquire_reply *a, uint32_t mode, int fd)
{
	if (entry_holds(claim, a, mode, fd))
		return claim;
	if (fd == -1)
		return NULL;
	if (entry_holds(cur, a, mode, fd))
		return cur;
	for (struct mc_entry *e = mc->retired_head; e; e = e->lru_next)
		if (entry_holds(e, a, mode, fd))
			return e;
	return NULL;
}

/* An fd came that no entry holds: a new entry replaces cur (if any). */
static int attach_new(struct mapcache *mc, struct mc_entry *cur, const char *name,
		      const struct proto_acquire_reply *a, uint32_t mode, int fd, struct mc_entry **out)
{
	struct mc_entry *e;
	int r = entry_new(name, a, mode, fd, &e);

	if (r < 0) {
		if (a->segment_id != 0 && (a->flags & PROTO_ACQ_FD))
			owe_unmap(mc, a->segment_id, mode);
		return r;
	}
	if (cur)
		entry_retire(mc, cur);
	entry_insert(mc, e);
	entry_pin(mc, e); /* for the view; the caller unpins once it is done */
	evict_excess(mc);
	*out = e;
	return 0;
}

int mapcache_attach(struct mapcache *mc, struct mc_entry *claim, const char *name,
		    const struct proto_acquire_reply *a, int fd, struct mc_map **out)
{
	uint32_t mode = a->flags & (PROTO_ACQ_READ | PROTO_ACQ_WRITE);
	struct mc_entry *cur = lookup(mc, name, mode), *e;
	uint64_t end = a->offset + a->length; /* the caller checked it against segment_size */
	struct mc_map *m;
	int r = 0;

	e = find_holder(mc, claim, cur, a, mode, fd);
	if (!e && fd == FDIO_FD_LOST) {
		/* Granted, but this process had no room for an fd we needed. */
		if (a->segment_id != 0 && (a->flags & PROTO_ACQ_FD))
			owe_unmap(mc, a->segment_id, mode);
		r = -EMFILE;
		goto out;
	}
	if (e) {
		if (fd >= 0)
			close(fd); /* a duplicate: one fd per segment and mode is enough */
		entry_pin(mc, e);
	} else if (fd < 0) {
		r = -EPROTO; /* no fd for a segment we do not hold */
		goto out;
	} else {
		r = attach_new(mc, cur, name, a, mode, fd, &e);
		if (r < 0)
			goto out;
	}
	/* A lease past the newest mapping (the segment grew): map it again, at
	 * its size now. Older mappings stay until their views are released. */
	m = e->maps;
	if (m->len < end)
		r = map_new(e, a->segment_size, &m);
	if (r < 0) {
		entry_unpin(mc, e);
		goto out;
	}
	if (m->next && m->next->views == 0) {
		/* The mapping it replaces has no view left: it goes now. */
		struct mc_map *old = m->next;

		m->next = old->next;
		old->next = mc->garbage.maps;
		mc->garbage.maps = old;
	}
	m->views++;
	*out = m;
out:
	if (claim)
		entry_unpin(mc, claim);
	return r;
}

struct mc_entry *mapcache_claim(struct mapcache *mc, const char *name, uint32_t mode)
{
	struct mc_entry *e = lookup(mc, name, mode);

	if (e)
		entry_pin(mc, e);
	return e;
}

void mapcache_unclaim(struct mapcache *mc, struct mc_entry *claim)
{
	if (claim)
		entry_unpin(mc, claim);
}

void mapcache_view_end(struct mapcache *mc, struct mc_map *map)
{
	struct mc_entry *e = map->entry;

	/* An older mapping (the segment grew since) goes with its last view;
	 * the newest stays for the next lease. */
	if (--map->views == 0 && map != e->maps) {
		struct mc_map **pp = &e->maps;

		while (*pp != map)
			pp = &(*pp)->next;
		*pp = map->next;
		map->next = mc->garbage.maps;
		mc->garbage.maps = map;
	}
	entry_unpin(mc, e);
}

void mapcache_segment_gone(struct mapcache *mc, uint64_t segment_id)
{
	/* At most SHMBUF__CACHE_MAX live entries, once per destroyed segment:
	 * a scan costs less than an index by id kept on every acquire. */
	for (size_t i = 0; i < MAPCACHE_BUCKETS; i++) {
		struct mc_entry *e = mc->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			if (e->segment_id == segment_id && segment_id != 0)
				entry_retire(mc, e);
		}
	}
}

void mapcache_name_gone(struct mapcache *mc, const char *name)
{
	static const uint32_t modes[] = { PROTO_ACQ_READ, PROTO_ACQ_WRITE };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct mc_entry *e = lookup(mc, name, modes[i]);

		/* Whichever segment the entry holds, it was destroyed: the one
		 * just now, or an older one under the same name. */
		if (e)
			entry_retire(mc, e);
	}
}

void mapcache_take_garbage(struct mapcache *mc, struct mc_garbage *g)
{
	*g = mc->garbage;
	mc->garbage = (struct mc_garbage){ 0 };
}

static void maps_free(struct mc_map *m)
{
	while (m) {
		struct mc_map *next = m->next;

		munmap(m->base, m->len);
		free(m);
		m = next;
	}
}

static void entries_free(struct mc_entry *e, struct mc_entry *(*next_of)(struct mc_entry *),
			 mapcache_unmap_fn *unmap, void *arg)
{
	while (e) {
		struct mc_entry *next = next_of(e);

		maps_free(e->maps);
		if (e->fd >= 0)
			close(e->fd);
		/* Unmapped and closed first: once the daemon reads UNMAP it may
		 * count the memory as freed. */
		if (unmap && e->owes_unmap)
			unmap(arg, e->segment_id, e->mode);
		free(e);
		e = next;
	}
}

static struct mc_entry *gnext_of(struct mc_entry *e)
{
	return e->gnext;
}

static struct mc_entry *hnext_of(struct mc_entry *e)
{
	return e->hnext;
}

static struct mc_entry *lru_next_of(struct mc_entry *e)
{
	return e->lru_next;
}

void mapcache_garbage_free(struct mc_garbage *g, mapcache_unmap_fn *unmap, void *arg)
{
	maps_free(g->maps);
	entries_free(g->entries, gnext_of, unmap, arg);
	*g = (struct mc_garbage){ 0 };
}

void mapcache_init(struct mapcache *mc)
{
	*mc = (struct mapcache){ 0 };
}

void mapcache_deinit(struct mapcache *mc)
{
	for (size_t i = 0; i < MAPCACHE_BUCKETS; i++)
		entries_free(mc->buckets[i], hnext_of, NULL, NULL);
	entries_free(mc->retired_head, lru_next_of, NULL, NULL);
	mapcache_garbage_free(&mc->garbage, NULL, NULL);
	mapcache_init(mc);
}
