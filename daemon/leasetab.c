/* SPDX-License-Identifier: MIT */
/* leasetab.c: the mapped lease table (see leasetab.h): slots, their checksum, growth. */
#define _GNU_SOURCE
#include "leasetab.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define LEASETAB_MAGIC 0x32736c6462666d73ull /* "smfbdls2": 48-byte slots */
#define LEASETAB_MIN 1024u
#define LEASETAB_MAX (1u << 26)

struct leasetab_hdr {
	uint64_t magic;
	uint64_t next_lease_id; /* the highest id handed out */
	uint32_t slot_size;
	uint32_t reserved[11];
};

struct leasetab_slot {
	uint64_t lease_id; /* 0: free */
	uint64_t segment_id;
	uint64_t offset;
	uint64_t length;
	uint32_t pid;
	uint32_t uid;
	uint32_t flags; /* 1: write */
	uint32_t sum;   /* of the fields above, stored last */
};

_Static_assert(sizeof(struct leasetab_hdr) == 64, "the header is 64 bytes");
/* 48, not a cache line: a held lease costs the daemon this much of the page cache too
 * (issue 8 wants at most 256 bytes per lease in all). */
_Static_assert(sizeof(struct leasetab_slot) == 48, "a slot is 48 bytes");

static struct leasetab_slot *slot_at(struct leasetab *t, uint32_t slot)
{
	return (struct leasetab_slot *)(t->hdr + 1) + (slot - 1); /* slots are 1-based, after the header */
}

static uint32_t slot_sum(const struct leasetab_slot *s)
{
	uint64_t h = 0x9e3779b97f4a7c15ull, v[6] = { s->lease_id, s->segment_id, s->offset, s->length,
						       (uint64_t)s->pid << 32 | s->uid, s->flags };

	for (int i = 0; i < 6; i++) {
		h ^= v[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 33;
	}
	return (uint32_t)(h ^ h >> 32) | 1; /* never 0: a zeroed slot never checks */
}

static size_t map_len_of(uint32_t capacity)
{
	return sizeof(struct leasetab_hdr) + (size_t)capacity * sizeof(struct leasetab_slot);
}

static int map_table(struct leasetab *t, uint32_t capacity)
{
	size_t len = map_len_of(capacity);
	void *p;

	if (ftruncate(t->fd, (off_t)len) < 0)
		return -errno;
	p = t->hdr ? mremap(t->hdr, t->map_len, len, MREMAP_MAYMOVE)
		   : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, t->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	t->hdr = p;
	t->map_len = len;
	t->capacity = capacity;
	return 0;
}

int leasetab_open(struct leasetab *t, const char *path)
{
	struct stat st;
	uint32_t capacity = LEASETAB_MIN;
	int r;

	memset(t, 0, sizeof(*t));
	t->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (t->fd < 0)
		return -errno;
	if (fstat(t->fd, &st) < 0)
		goto fail;
	if ((size_t)st.st_size > map_len_of(LEASETAB_MIN))
		capacity = (uint32_t)(((size_t)st.st_size - sizeof(struct leasetab_hdr)) / sizeof(struct leasetab_slot));
	if (capacity > LEASETAB_MAX)
		capacity = LEASETAB_MAX;
	r = map_table(t, capacity);
	if (r < 0) {
		errno = -r;
		goto fail;
	}
	if (t->hdr->magic != LEASETAB_MAGIC || t->hdr->slot_size != sizeof(struct leasetab_slot)) {
		if (st.st_size > 0)
			log_warn("lease table %s is not ours or torn: starting it empty", path);
		memset(t->hdr, 0, t->map_len);
		t->hdr->slot_size = sizeof(struct leasetab_slot);
		t->hdr->magic = LEASETAB_MAGIC;
	}
	return 0;
fail:
	r = -errno;
	close(t->fd);
	t->fd = -1;
	return r;
}

void leasetab_close(struct leasetab *t)
{
	if (t->hdr)
		munmap(t->hdr, t->map_len);
	if (t->fd >= 0)
		close(t->fd);
	free(t->free_slots);
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

static void read_slot(const struct leasetab_slot *s, struct leasetab_rec *r)
{
	r->lease_id = s->lease_id;
	r->segment_id = s->segment_id;
	r->offset = s->offset;
	r->length = s->length;
	r->pid = s->pid;
	r->uid = s->uid;
	r->write = s->flags & 1;
}

int leasetab_load(struct leasetab *t, bool (*fn)(const struct leasetab_rec *r, uint32_t slot, void *ctx),
		  void *ctx, uint64_t *max_id)
{
	*max_id = 0;
	if (t->fd < 0)
		return 0;
	*max_id = t->hdr->next_lease_id;
	t->free_slots = malloc(t->capacity * sizeof(*t->free_slots));
	if (!t->free_slots)
		return -ENOMEM;
	/* From the top, so that the stack hands out low slots first. */
	for (uint32_t i = t->capacity; i >= 1; i--) {
		struct leasetab_slot *s = slot_at(t, i);
		struct leasetab_rec r;

		if (s->lease_id && s->sum == slot_sum(s)) {
			read_slot(s, &r);
			if (r.lease_id > *max_id)
				*max_id = r.lease_id;
			if (fn(&r, i, ctx)) {
				t->used++;
				continue;
			}
		}
		memset(s, 0, sizeof(*s));
		t->free_slots[t->n_free++] = i;
	}
	return 0;
}

static int grow(struct leasetab *t)
{
	uint32_t old = t->capacity, cap = old * 2;
	uint32_t *stack;
	int r;

	if (old >= LEASETAB_MAX)
		return -ENOSPC;
	stack = realloc(t->free_slots, cap * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	t->free_slots = stack;
	r = map_table(t, cap);
	if (r < 0)
		return r;
	for (uint32_t i = cap; i > old; i--)
		t->free_slots[t->n_free++] = i;
	return 0;
}

uint32_t leasetab_put(struct leasetab *t, const struct leasetab_rec *r)
{
	struct leasetab_slot *s;
	uint32_t slot;

	if (t->fd < 0 || !t->free_slots)
		return 0;
	if (t->n_free == 0) {
		int err = grow(t);

		if (err < 0) {
			log_warn("cannot grow the lease table: %s; lease %llu will not survive a restart",
				 strerror(-err), (unsigned long long)r->lease_id);
			return 0;
		}
	}
	slot = t->free_slots[--t->n_free];
	s = slot_at(t, slot);
	s->segment_id = r->segment_id;
	s->offset = r->offset;
	s->length = r->length;
	s->pid = r->pid;
	s->uid = r->uid;
	s->flags = r->write ? 1 : 0;
	s->lease_id = r->lease_id;
	/* The checksum last, after every field (a compiler barrier suffices: only a later
	 * process reads it, after this one died). */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	s->sum = slot_sum(s);
	t->used++;
	return slot;
}

void leasetab_clear(struct leasetab *t, uint32_t slot)
{
	if (t->fd < 0 || slot == 0)
		return;
	slot_at(t, slot)->lease_id = 0; /* one store: the slot is free */
	t->free_slots[t->n_free++] = slot;
	t->used--;
}

void leasetab_note_id(struct leasetab *t, uint64_t id)
{
	if (t->fd >= 0)
		t->hdr->next_lease_id = id;
}
