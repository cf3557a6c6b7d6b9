/* SPDX-License-Identifier: MIT */
/* access.h: who may do what to a segment. Pure decisions from a client's
 * credentials and a segment's owner, group and mode, checked the way the
 * kernel checks a file: the owner's bits for its owner, else the group's for
 * a member (primary or supplementary group), else the others'. Knows nothing
 * of sockets, segments or the server. */
#ifndef SHMBUFD_ACCESS_H
#define SHMBUFD_ACCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A client as the socket told us: SO_PEERCRED and SO_PEERGROUPS. */
struct access_cred {
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary */
	uint32_t n_groups;
	uid_t daemon_uid;    /* the daemon's own uid passes every check, as root does */
};

/* What a segment is, for these checks. */
struct access_obj {
	uid_t uid;
	gid_t gid;
	uint32_t mode; /* 0777 bits */
};

enum access_want {
	ACCESS_SEE,   /* STAT, listings, events: any permission, or owning it */
	ACCESS_READ,  /* ACQUIRE read */
	ACCESS_WRITE, /* ACQUIRE write, RESIZE */
	ACCESS_OWN,   /* DESTROY, CHMOD, CHOWN */
};

/* Whether the client is root or the daemon's uid: it passes every check and sees everything. */
bool access_is_privileged(const struct access_cred *c);

/* Whether gid is the client's primary or one of its supplementary groups. */
bool access_in_group(const struct access_cred *c, gid_t gid);

/* May the client do `want` to obj? 0; -ENOENT when it may not even see it
 * (answered exactly as a missing segment); -EACCES when it sees it but the
 * mode refuses (READ, WRITE); -EPERM when OWN is asked by a non-owner. */
int access_check(const struct access_cred *c, const struct access_obj *obj, enum access_want want);

/* May the client change obj's owner to uid and its group to gid (each
 * (uint32_t)-1: unchanged)? Only root or the daemon gives a segment to
 * another user; the owner may set a group it is in. 0, -ENOENT, -EPERM. */
int access_check_chown(const struct access_cred *c, const struct access_obj *obj, uid_t uid, gid_t gid);

/* Names under "uid/" are reserved, so that a service can keep a well-known name
 * no other user can squat: "uid/<n>/..." (n in decimal, no leading zero) may be
 * created only by uid n (and root or the daemon). Other names: first come, first
 * served. 0, or -EACCES. */
#define ACCESS_RESERVED_PREFIX "uid/"
int access_check_create_name(const struct access_cred *c, const char *name);

#endif
