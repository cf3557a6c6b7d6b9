/* SPDX-License-Identifier: MIT */
/* ctl_owner.c: who owns what: the chmod, chown and users commands. */
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

/* "used/max", or "used" alone when max is 0 (no limit). */
static void cell_of(struct table *t, uint64_t used, uint64_t max)
{
	if (max)
		table_cell(t, "%llu/%llu", (unsigned long long)used, (unsigned long long)max);
	else
		table_cell(t, "%llu", (unsigned long long)used);
}

static void users_text(const shmbuf_user_info *v, size_t n)
{
	static const char *const heads[] = { "USER", "CONNECTIONS", "SEGMENTS", "LEASES", "BYTES", "MAX BYTES", "FLAGS" };
	struct table t;

	table_init(&t, 7, heads, "lrrrrrl");
	for (size_t i = 0; i < n; i++) {
		char user[64], bytes[32], max[32];

		fmt_size_approx(v[i].bytes, bytes, sizeof(bytes));
		fmt_size_approx(v[i].max_bytes, max, sizeof(max));
		table_cell(&t, "%s", user_label(v[i].uid, user, sizeof(user)));
		cell_of(&t, v[i].connections, v[i].max_connections);
		cell_of(&t, v[i].segments, v[i].max_segments);
		cell_of(&t, v[i].leases, v[i].max_leases);
		table_cell(&t, "%s", bytes);
		table_cell(&t, "%s", max);
		table_cell(&t, "%s", v[i].flags & SHMBUF_USER_EXEMPT ? "exempt" : "-");
	}
	table_print(&t, stdout);
	table_deinit(&t);
}

static void users_json(const shmbuf_user_info *v, size_t n)
{
	struct json j;

	json_init(&j, stdout, true);
	json_open(&j, NULL, '{');
	json_open(&j, "users", '[');
	for (size_t i = 0; i < n; i++) {
		json_open(&j, NULL, '{');
		json_u64(&j, "uid", v[i].uid);
		json_str(&j, "user", user_name(v[i].uid));
		json_bool(&j, "exempt", (v[i].flags & SHMBUF_USER_EXEMPT) != 0);
		json_u64(&j, "connections", v[i].connections);
		json_u64(&j, "max_connections", v[i].max_connections);
		json_u64(&j, "segments", v[i].segments);
		json_u64(&j, "max_segments", v[i].max_segments);
		json_u64(&j, "leases", v[i].leases);
		json_u64(&j, "max_leases", v[i].max_leases);
		json_u64(&j, "bytes", v[i].bytes);
		json_u64(&j, "max_bytes", v[i].max_bytes);
		json_close(&j, '}');
	}
	json_close(&j, ']');
	json_close(&j, '}');
}

int cmd_users(const struct args *a)
{
	shmbuf_user_info *v;
	shmbuf_client *c;
	size_t n;
	int r, rc;

	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	r = shmbuf_list_users(c, &v, &n, sizeof(*v));
	if (r < 0) {
		rc = ctl_fail(a, NULL, r);
	} else {
		if (a->json)
			users_json(v, n);
		else
			users_text(v, n);
		shmbuf_free(v);
	}
	shmbuf_disconnect(c);
	return rc;
}
