/* SPDX-License-Identifier: MIT */
/* access.c: permission decisions for segments, as the kernel makes them for files. */
#define _GNU_SOURCE
#include "access.h"

#include <errno.h>
#include <string.h>

bool access_is_privileged(const struct access_cred *c)
{
	return c->uid == 0 || c->uid == c->daemon_uid;
}

bool access_in_group(const struct access_cred *c, gid_t gid)
{
	if (c->gid == gid)
		return true;
	for (uint32_t i = 0; i < c->n_groups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

/* The rwx bits of obj's mode that apply to the client: one class only, as
 * for files (an owner is not helped by the group's or others' bits). */
static uint32_t class_bits(const struct access_cred *c, const struct access_obj *obj)
{
	if (c->uid == obj->uid)
		return (obj->mode >> 6) & 7;
	if (access_in_group(c, obj->gid))
		return (obj->mode >> 3) & 7;
	return obj->mode & 7;
}

int access_check(const struct access_cred *c, const struct access_obj *obj, enum access_want want)
{
	bool is_owner = c->uid == obj->uid;
	uint32_t bits;

	if (access_is_privileged(c))
		return 0;
	bits = class_bits(c, obj);
	if (!is_owner && bits == 0)
		return -ENOENT; /* nothing granted: as if it did not exist */
	switch (want) {
	case ACCESS_SEE:
		return 0;
	case ACCESS_READ:
		return bits & 4 ? 0 : -EACCES;
	case ACCESS_WRITE:
		return bits & 2 ? 0 : -EACCES;
	case ACCESS_OWN:
		return is_owner ? 0 : -EPERM;
	}
	return -EINVAL;
}

int access_check_chown(const struct access_cred *c, const struct access_obj *obj, uid_t uid, gid_t gid)
{
	int r = access_check(c, obj, ACCESS_OWN);

	if (r < 0 || access_is_privileged(c))
		return r;
	if (uid != (uid_t)-1 && uid != obj->uid)
		return -EPERM; /* giving a segment away: root only, as chown(2) */
	if (gid != (gid_t)-1 && gid != obj->gid && !access_in_group(c, gid))
		return -EPERM;
	return 0;
}

int access_check_create_name(const struct access_cred *c, const char *name)
{
	const size_t plen = sizeof(ACCESS_RESERVED_PREFIX) - 1;
	const char *p = name + plen;
	uint64_t n = 0;

	if (strncmp(name, ACCESS_RESERVED_PREFIX, plen) != 0 || access_is_privileged(c))
		return 0;
	/* The uid as written: digits, no leading zero, then '/'. Anything else under
	 * the prefix is nobody's: refused too, so no spelling of a uid can be squatted. */
	if (*p == '0' || *p < '0' || *p > '9')
		return -EACCES;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > UINT32_MAX)
			return -EACCES;
	}
	return *p == '/' && n == c->uid ? 0 : -EACCES;
}
