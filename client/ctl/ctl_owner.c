/* ctl_owner.c: the chmod and chown commands. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int cmd_chmod(const struct args *a)
{
	const char *name = a->pos[1];
	shmbuf_client *c;
	char *end;
	long mode;
	int r, rc;

	errno = 0;
	mode = strtol(a->pos[0], &end, 8);
	if (errno || end == a->pos[0] || *end || mode < 0 || mode > 0777)
		return ctl_failf(a, "'%s' is not an octal mode (0 to 0777)", a->pos[0]);
	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	r = shmbuf_chmod(c, name, (unsigned)mode);
	rc = r < 0 ? ctl_fail(a, name, r) : EXIT_OK;
	shmbuf_disconnect(c);
	return rc;
}

/* A user or group given by name or number; "" leaves it as it is (-1). */
static int parse_id(const char *s, bool is_group, uint32_t *out)
{
	char *end;
	unsigned long v;

	*out = UINT32_MAX;
	if (!*s)
		return 0;
	if (is_group) {
		struct group *g = getgrnam(s);

		if (g) {
			*out = g->gr_gid;
			return 0;
		}
	} else {
		struct passwd *p = getpwnam(s);

		if (p) {
			*out = p->pw_uid;
			return 0;
		}
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v >= UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int cmd_chown(const struct args *a)
{
	const char *name = a->pos[1];
	char spec[256], *colon;
	uint32_t uid, gid = UINT32_MAX;
	shmbuf_client *c;
	int r, rc;

	if (strlen(a->pos[0]) >= sizeof(spec))
		return ctl_failf(a, "'%s' is too long for OWNER[:GROUP]", a->pos[0]);
	strcpy(spec, a->pos[0]);
	colon = strchr(spec, ':');
	if (colon)
		*colon = '\0';
	if (parse_id(spec, false, &uid) < 0)
		return ctl_failf(a, "no user '%s'", spec);
	if (colon && parse_id(colon + 1, true, &gid) < 0)
		return ctl_failf(a, "no group '%s'", colon + 1);
	if (uid == UINT32_MAX && gid == UINT32_MAX)
		return ctl_failf(a, "'%s' names neither an owner nor a group", a->pos[0]);
	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	r = shmbuf_chown(c, name, (uid_t)uid, (gid_t)gid);
	rc = r < 0 ? ctl_fail(a, name, r) : EXIT_OK;
	shmbuf_disconnect(c);
	return rc;
}
