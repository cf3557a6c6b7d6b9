/* SPDX-License-Identifier: MIT */
/* test_permissions.c: segments belong to someone (issue 11): children that switch to other uids and
 * gids try every row of the permission table against a real shmbufd; invisible segments answer
 * as missing ones; listings and events are private. Tests run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

#define OWNER 4242
#define GROUP 4300
#define NOBODY 65534
#define NO_GROUP ((gid_t)-1)

/* A daemon whose socket any user may reach (the test's directory opened up
 * too), with extra options (NULL-terminated, at most 8). */
static void shared_daemon_start(const char *const *extra)
{
	const char *args[12] = { "--socket-mode", "0666" };
	char dir[256];

	for (int i = 0; extra && extra[i]; i++)
		args[2 + i] = extra[i];
	daemon_start(args);
	snprintf(dir, sizeof(dir), "%s", daemon_socket());
	cr_assert_eq(chmod(dirname(dir), 0755), 0);
}

static void shared_daemon_setup(void)
{
	shared_daemon_start(NULL);
}

TestSuite(permissions, .init = shared_daemon_setup, .fini = daemon_teardown, .timeout = 60);
TestSuite(quotas, .fini = daemon_teardown, .timeout = 60);

struct who {
	uid_t uid;
	gid_t gid;
	gid_t supp; /* one supplementary group, or NO_GROUP */
};

enum op { OP_STAT, OP_READ, OP_WRITE, OP_RESIZE, OP_DESTROY, OP_CHMOD, OP_CHOWN, OP_CREATE, OP_AS_MISSING };

struct job {
	struct who who;
	enum op op;
	const char *name;
	uint32_t a, b; /* CHMOD: mode; CHOWN: uid, gid; CREATE: mode */
};

static void become(const struct who *w)
{
	CHILD_CHECK(setgroups(w->supp == NO_GROUP ? 0 : 1, &w->supp) == 0);
	CHILD_CHECK(setgid(w->gid) == 0);
	CHILD_CHECK(setuid(w->uid) == 0);
}

/* In the child: the op's result as an exit code (-errno), 200 when it cannot connect. */
static int run_job(void *arg)
{
	const struct job *j = arg;
	shmbuf_client *c;
	shmbuf_stat_info st;
	shmbuf_view v;
	char want[320];
	int r = 0;

	become(&j->who);
	if (shmbuf_connect(daemon_socket(), &c) < 0)
		return 200;
	switch (j->op) {
	case OP_STAT:
		r = shmbuf_stat(c, j->name, &st, sizeof(st));
		break;
	case OP_READ:
	case OP_WRITE:
		/* Waits a while: an earlier child's quiet RELEASE may not be read yet. */
		r = shmbuf_acquire(c, j->name, 0, 0, j->op == OP_READ ? SHMBUF_READ : SHMBUF_WRITE, 10000, &v,
				   sizeof(v));
		if (r == 0)
			r = shmbuf_release(c, &v, sizeof(v));
		break;
	case OP_RESIZE:
		r = shmbuf_resize(c, j->name, 8192);
		break;
	case OP_DESTROY:
		r = shmbuf_destroy(c, j->name);
		break;
	case OP_CHMOD:
		r = shmbuf_chmod(c, j->name, j->a);
		break;
	case OP_CHOWN:
		r = shmbuf_chown(c, j->name, (uid_t)j->a, (gid_t)j->b);
		break;
	case OP_CREATE:
		r = shmbuf_create(c, j->name, 4096, j->a);
		break;
	case OP_AS_MISSING: /* the refusal is word for word that of a missing segment */
		r = shmbuf_stat(c, j->name, &st, sizeof(st));
		snprintf(want, sizeof(want), "no segment named '%s'", j->name);
		if (r == -ENOENT && strcmp(shmbuf_last_error_detail(), want) != 0) {
			fprintf(stderr, "detail '%s', want '%s'\n", shmbuf_last_error_detail(), want);
			r = -99;
		}
		break;
	}
	shmbuf_disconnect(c);
	return -r;
}

/* Run op as who in a child; its result, 0 or a negative errno. */
static int as(struct who who, enum op op, const char *name, uint32_t a, uint32_t b)
{
	struct job j = { who, op, name, a, b };
	int status = child_wait(child_spawn(run_job, &j), 10000);

	cr_assert(status >= 0 && WIFEXITED(status), "child for op %d did not exit", (int)op);
	cr_assert_neq(WEXITSTATUS(status), 200, "child could not connect");
	return -WEXITSTATUS(status);
}

static const struct who owner = { OWNER, OWNER, NO_GROUP };
static const struct who member_supp = { 4243, 4243, GROUP };    /* GROUP as a supplementary group */
static const struct who member_primary = { 4244, GROUP, NO_GROUP };
static const struct who other = { NOBODY, NOBODY, NO_GROUP };
static const struct who user_b = { 4243, 4243, NO_GROUP };

/* A segment of OWNER:GROUP with mode, made by root and given away. */
static const char *owned_segment(shmbuf_client *root, const char *tag, unsigned mode)
{
	const char *name = seg_name(tag);

	cr_assert_eq(shmbuf_create(root, name, 4096, mode), 0);
	cr_assert_eq(shmbuf_chown(root, name, OWNER, GROUP), 0);
	return name;
}

Test(permissions, owner_group_and_others_get_their_class_of_the_mode)
{
	shmbuf_client *root = client_new();
	const char *s = owned_segment(root, "rw-r-----", 0640);

	cr_expect_eq(as(owner, OP_STAT, s, 0, 0), 0);
	cr_expect_eq(as(owner, OP_READ, s, 0, 0), 0);
	cr_expect_eq(as(owner, OP_WRITE, s, 0, 0), 0);
	cr_expect_eq(as(owner, OP_RESIZE, s, 0, 0), 0);
	/* The group, by a supplementary group and by the primary one. */
	cr_expect_eq(as(member_supp, OP_STAT, s, 0, 0), 0);
	cr_expect_eq(as(member_supp, OP_READ, s, 0, 0), 0);
	cr_expect_eq(as(member_supp, OP_WRITE, s, 0, 0), -EACCES);
	cr_expect_eq(as(member_supp, OP_RESIZE, s, 0, 0), -EACCES);
	cr_expect_eq(as(member_primary, OP_READ, s, 0, 0), 0);
	cr_expect_eq(as(member_primary, OP_WRITE, s, 0, 0), -EACCES);
	/* Visible but not its own. */
	cr_expect_eq(as(member_supp, OP_DESTROY, s, 0, 0), -EPERM);
	cr_expect_eq(as(member_supp, OP_CHMOD, s, 0666, 0), -EPERM);
	cr_expect_eq(as(member_supp, OP_CHOWN, s, (uint32_t)-1, 4243), -EPERM);
	/* Others have no bit: the segment does not exist for them. */
	cr_expect_eq(as(other, OP_STAT, s, 0, 0), -ENOENT);
	cr_expect_eq(as(other, OP_READ, s, 0, 0), -ENOENT);
	cr_expect_eq(as(other, OP_WRITE, s, 0, 0), -ENOENT);
	cr_expect_eq(as(other, OP_RESIZE, s, 0, 0), -ENOENT);
	cr_expect_eq(as(other, OP_DESTROY, s, 0, 0), -ENOENT);
	cr_expect_eq(as(other, OP_CHMOD, s, 0666, 0), -ENOENT);
	cr_expect_eq(as(other, OP_CHOWN, s, NOBODY, (uint32_t)-1), -ENOENT);
	cr_expect_eq(as(other, OP_AS_MISSING, s, 0, 0), -ENOENT);
	/* Only the owner destroys. */
	cr_expect_eq(as(owner, OP_DESTROY, s, 0, 0), 0);
	shmbuf_disconnect(root);
	expect_clean_shutdown();
}

Test(permissions, others_bits_and_the_owner_class_alone)
{
	shmbuf_client *root = client_new();
	const char *pub = owned_segment(root, "rw----r--", 0604);
	const char *grp = owned_segment(root, "---rw----", 0060);

	cr_expect_eq(as(other, OP_STAT, pub, 0, 0), 0);
	cr_expect_eq(as(other, OP_READ, pub, 0, 0), 0);
	cr_expect_eq(as(other, OP_WRITE, pub, 0, 0), -EACCES);
	cr_expect_eq(as(other, OP_DESTROY, pub, 0, 0), -EPERM);
	/* The group has no bit of 0604: a member sees nothing, though others read. */
	cr_expect_eq(as(member_supp, OP_READ, pub, 0, 0), -ENOENT);
	/* As for files, the owner gets the owner's bits only, but always sees its own. */
	cr_expect_eq(as(owner, OP_STAT, grp, 0, 0), 0);
	cr_expect_eq(as(owner, OP_READ, grp, 0, 0), -EACCES);
	cr_expect_eq(as(member_supp, OP_WRITE, grp, 0, 0), 0);
	cr_expect_eq(as(owner, OP_CHMOD, grp, 0600, 0), 0);
	cr_expect_eq(as(owner, OP_READ, grp, 0, 0), 0);
	cr_expect_eq(as(member_supp, OP_STAT, grp, 0, 0), -ENOENT);
	/* Root passes every check, whatever the mode. */
	cr_expect_eq(shmbuf_chmod(root, grp, 0), 0);
	cr_expect_eq(as((struct who){ 0, 0, NO_GROUP }, OP_WRITE, grp, 0, 0), 0);
	cr_expect_eq(shmbuf_destroy(root, pub), 0);
	cr_expect_eq(shmbuf_destroy(root, grp), 0);
	shmbuf_disconnect(root);
	expect_clean_shutdown();
}

Test(permissions, chown_gives_away_only_as_root_and_groups_only_the_owners)
{
	shmbuf_client *root = client_new();
	const char *s = owned_segment(root, "chown", 0600);
	const struct who owner_in_4400 = { OWNER, OWNER, 4400 };
	shmbuf_stat_info st;

	cr_expect_eq(as(owner, OP_CHOWN, s, NOBODY, (uint32_t)-1), -EPERM);
	cr_expect_eq(as(owner, OP_CHOWN, s, (uint32_t)-1, 4400), -EPERM);
	cr_expect_eq(as(owner_in_4400, OP_CHOWN, s, (uint32_t)-1, 4400), 0);
	cr_expect_eq(as(owner, OP_CHOWN, s, OWNER, OWNER), 0); /* its primary group; its own uid */
	cr_assert_eq(shmbuf_stat(root, s, &st, sizeof(st)), 0);
	cr_expect_eq(st.uid, OWNER);
	cr_expect_eq(st.gid, OWNER);
	cr_expect_eq(shmbuf_chown(root, s, NOBODY, 4500), 0);
	cr_assert_eq(shmbuf_stat(root, s, &st, sizeof(st)), 0);
	cr_expect_eq(st.uid, NOBODY);
	cr_expect_eq(st.gid, 4500);
	cr_expect_eq(as(owner, OP_STAT, s, 0, 0), -ENOENT); /* no longer its own, mode 0600 */
	cr_expect_eq(as(other, OP_DESTROY, s, 0, 0), 0);
	shmbuf_disconnect(root);
	expect_clean_shutdown();
}

Test(permissions, create_takes_the_callers_uid_and_primary_gid)
{
	shmbuf_client *root = client_new();
	const char *s = seg_name("mine");
	const struct who creator = { OWNER, GROUP, 4400 };
	shmbuf_stat_info st;

	cr_assert_eq(as(creator, OP_CREATE, s, 0600, 0), 0);
	cr_assert_eq(shmbuf_stat(root, s, &st, sizeof(st)), 0);
	cr_expect_eq(st.uid, OWNER);
	cr_expect_eq(st.gid, GROUP);
	cr_expect_eq(st.mode, 0600);
	/* The segment outlives its creator's connection and stays its own. */
	cr_expect_eq(as(owner, OP_WRITE, s, 0, 0), 0);
	cr_expect_eq(as(member_primary, OP_STAT, s, 0, 0), -ENOENT);
	cr_expect_eq(as(creator, OP_DESTROY, s, 0, 0), 0);
	shmbuf_disconnect(root);
	expect_clean_shutdown();
}

Test(permissions, names_under_uid_n_belong_to_uid_n)
{
	shmbuf_client *root = client_new();
	char mine[64], theirs[64];

	snprintf(mine, sizeof(mine), "uid/%d/%s", OWNER, seg_name("svc"));
	snprintf(theirs, sizeof(theirs), "uid/%d/%s", OWNER, seg_name("squat"));
	cr_expect_eq(as(owner, OP_CREATE, mine, 0644, 0), 0);
	cr_expect_eq(as(user_b, OP_CREATE, theirs, 0644, 0), -EACCES);
	cr_expect_eq(as(other, OP_CREATE, theirs, 0644, 0), -EACCES);
	cr_expect_eq(shmbuf_create(root, theirs, 4096, 0644), 0); /* root may */
	cr_expect_eq(shmbuf_destroy(root, theirs), 0);
	cr_expect_eq(as(owner, OP_DESTROY, mine, 0, 0), 0);
	shmbuf_disconnect(root);
	expect_clean_shutdown();
}

struct keeper {
	struct who who;
	const char *name;
	struct chan ready, go;
};

/* As who: read name once (libshmbuf keeps the mapping), say so, and after go
 * expect the daemon's UNMAP to have taken the kept mapping away. */
static int keep_then_lose(void *arg)
{
	struct keeper *k = arg;
	shmbuf_client *c;
	shmbuf_view v;
	char perms[5], path[256];
	void *p;
	int64_t end;

	become(&k->who);
	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c) == 0);
	CHILD_CHECK(shmbuf_acquire(c, k->name, 0, 0, SHMBUF_READ, 0, &v, sizeof(v)) == 0);
	p = v.data;
	CHILD_CHECK(shmbuf_release(c, &v, sizeof(v)) == 0);
	CHILD_CHECK(mapping_of(p, perms, path, sizeof(path)) == 0); /* kept */
	CHILD_CHECK(chan_send(&k->ready, 'r') == 0);
	CHILD_CHECK(chan_recv(&k->go, 10000) == 'g');
	/* Any call reads what the daemon sent and lets the mapping go. */
	for (end = now_ms() + 5000; mapping_of(p, perms, path, sizeof(path)) == 0 && now_ms() < end; usleep(10000))
		shmbuf_stat(c, k->name, &(shmbuf_stat_info){ 0 }, sizeof(shmbuf_stat_info));
	CHILD_CHECK(mapping_of(p, perms, path, sizeof(path)) == -ENOENT);
	shmbuf_disconnect(c);
	return 0;
}

Test(permissions, chmod_asks_clients_that_lost_access_to_let_go_of_kept_fds)
{
	shmbuf_client *root = client_new();
	struct keeper k = { .who = member_supp, .name = owned_segment(root, "revoke", 0640) };
	pid_t pid;

	chan_open(&k.ready);
	chan_open(&k.go);
	pid = child_spawn(keep_then_lose, &k);
	cr_assert_eq(chan_recv(&k.ready, 10000), 'r');
	cr_assert_eq(shmbuf_chmod(root, k.name, 0600), 0);
	chan_send(&k.go, 'g');
	child_expect_exit(pid, 0);
	cr_assert_eq(shmbuf_destroy(root, k.name), 0);
	shmbuf_disconnect(root);
	chan_close(&k.ready);
	chan_close(&k.go);
	expect_clean_shutdown();
}

/* ---- private introspection ---- */

struct peek {
	struct who who;
	const char *visible, *hidden; /* segment names */
	struct chan ready;
};

/* As who: list segments, leases and clients; exit 0 when only what who may see is listed. */
static int peek_listings(void *arg)
{
	const struct peek *p = arg;
	shmbuf_client *c;
	shmbuf_segment_info *segs;
	shmbuf_lease_info *leases;
	shmbuf_client_info *clients;
	shmbuf_user_info *users;
	size_t n;
	bool saw_visible = false;

	become(&p->who);
	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c) == 0);
	CHILD_CHECK(shmbuf_list_segments(c, &segs, &n, sizeof(*segs)) == 0);
	for (size_t i = 0; i < n; i++) {
		CHILD_CHECK(strcmp(segs[i].name, p->hidden) != 0);
		saw_visible |= strcmp(segs[i].name, p->visible) == 0;
	}
	CHILD_CHECK(saw_visible);
	shmbuf_free(segs);
	CHILD_CHECK(shmbuf_list_leases(c, NULL, &leases, &n, sizeof(*leases)) == 0);
	CHILD_CHECK(n == 1 && strcmp(leases[0].segment, p->visible) == 0 && leases[0].uid == 0);
	shmbuf_free(leases);
	CHILD_CHECK(shmbuf_list_leases(c, p->hidden, &leases, &n, sizeof(*leases)) == -ENOENT);
	CHILD_CHECK(shmbuf_list_clients(c, &clients, &n, sizeof(*clients)) == 0);
	CHILD_CHECK(n == 1 && clients[0].uid == p->who.uid && (clients[0].flags & SHMBUF_CLIENT_SELF));
	shmbuf_free(clients);
	CHILD_CHECK(shmbuf_list_users(c, &users, &n, sizeof(*users)) == 0);
	CHILD_CHECK(n == 1 && users[0].uid == p->who.uid && users[0].connections == 1 && !users[0].flags);
	shmbuf_free(users);
	shmbuf_disconnect(c);
	return 0;
}

Test(permissions, listings_show_what_the_caller_may_see)
{
	shmbuf_client *root = client_new();
	struct peek p = { .who = other, .visible = seg_name("public"), .hidden = seg_name("private") };
	shmbuf_view v1, v2;
	size_t n;
	shmbuf_client_info *clients;

	cr_assert_eq(shmbuf_create(root, p.visible, 4096, 0644), 0);
	cr_assert_eq(shmbuf_create(root, p.hidden, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(root, p.visible, 0, 0, SHMBUF_READ, 0, &v1, sizeof(v1)), 0);
	cr_assert_eq(shmbuf_acquire(root, p.hidden, 0, 0, SHMBUF_READ, 0, &v2, sizeof(v2)), 0);
	child_expect_exit(child_spawn(peek_listings, &p), 0);
	/* Root sees everyone. */
	cr_assert_eq(shmbuf_list_clients(root, &clients, &n, sizeof(*clients)), 0);
	cr_expect_geq(n, 1);
	shmbuf_free(clients);
	cr_assert_eq(shmbuf_release(root, &v1, sizeof(v1)), 0);
	cr_assert_eq(shmbuf_release(root, &v2, sizeof(v2)), 0);
	cr_assert_eq(shmbuf_destroy(root, p.visible), 0);
	cr_assert_eq(shmbuf_destroy(root, p.hidden), 0);
	shmbuf_disconnect(root);
	expect_clean_shutdown();
}

/* As who: subscribe, say so, then read events up to the visible segment's
 * creation: none about the hidden one nor about root's connections. */
static int watch_events(void *arg)
{
	struct peek *p = arg;
	shmbuf_client *c;
	shmbuf_event ev;

	become(&p->who);
	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c) == 0);
	CHILD_CHECK(shmbuf_subscribe(c) == 0);
	CHILD_CHECK(chan_send(&p->ready, 'r') == 0);
	for (;;) {
		CHILD_CHECK(shmbuf_next_event(c, &ev, sizeof(ev), 10000) == 0);
		CHILD_CHECK(strcmp(ev.segment, p->hidden) != 0);
		CHILD_CHECK(ev.type != SHMBUF_EVENT_CLIENT_CONNECTED || ev.uid == p->who.uid);
		if (ev.type == SHMBUF_EVENT_SEGMENT_CREATED && strcmp(ev.segment, p->visible) == 0)
			break;
	}
	shmbuf_disconnect(c);
	return 0;
}

Test(permissions, events_are_filtered_like_listings)
{
	struct peek p = { .who = other, .visible = seg_name("seen"), .hidden = seg_name("unseen") };
	shmbuf_client *root;
	pid_t pid;

	chan_open(&p.ready);
	pid = child_spawn(watch_events, &p);
	cr_assert_eq(chan_recv(&p.ready, 10000), 'r');
	root = client_new(); /* its CLIENT_CONNECTED must not reach the watcher */
	cr_assert_eq(shmbuf_create(root, p.hidden, 4096, 0600), 0);
	cr_assert_eq(shmbuf_create(root, p.visible, 4096, 0604), 0);
	child_expect_exit(pid, 0);
	cr_assert_eq(shmbuf_destroy(root, p.visible), 0);
	cr_assert_eq(shmbuf_destroy(root, p.hidden), 0);
	shmbuf_disconnect(root);
	chan_close(&p.ready);
	expect_clean_shutdown();
}

/* ---- per-user quotas ---- */

static const char *const quota_args[] = { "--user-max-segments", "2", "--user-max-bytes", "16K",
					  "--user-max-leases", "2", NULL };

Test(quotas, segments_and_bytes_are_charged_to_their_owner_connected_or_not)
{
	shmbuf_client *root;
	const char *a1 = seg_name("a1"), *a2 = seg_name("a2"), *a3 = seg_name("a3"), *b1 = seg_name("b1");

	shared_daemon_start(quota_args);
	root = client_new();
	cr_expect_eq(as(owner, OP_CREATE, a1, 0600, 0), 0);
	cr_expect_eq(as(owner, OP_CREATE, a2, 0600, 0), 0);
	/* Its creator has left; the segments still count against it. */
	cr_expect_eq(as(owner, OP_CREATE, a3, 0600, 0), -EDQUOT);
	/* Another user is not held up, nor is root. */
	cr_expect_eq(as(user_b, OP_CREATE, b1, 0600, 0), 0);
	cr_expect_eq(shmbuf_create(root, a3, 1 << 20, 0600), 0);
	/* Growing past the byte quota (16 KiB, 8 KiB in use) is refused; root may. */
	cr_expect_eq(as(owner, OP_RESIZE, a1, 0, 0), 0); /* to 8 KiB: 12 KiB in use */
	cr_expect_eq(shmbuf_chmod(root, a2, 0666), 0);
	cr_expect_eq(as(user_b, OP_RESIZE, a2, 0, 0), 0); /* charged to the owner: 16 KiB */
	cr_expect_eq(shmbuf_resize(root, a2, 16384), 0);  /* root is never refused: 20 KiB now */
	cr_expect_eq(as(owner, OP_DESTROY, a1, 0, 0), 0);
	cr_expect_eq(as(owner, OP_CREATE, a1, 0600, 0), -EDQUOT); /* 4 KiB more would pass 16 KiB (16 in use) */
	/* Given to root, a segment no longer counts against its creator. */
	cr_expect_eq(shmbuf_chown(root, a2, 0, 0), 0);
	cr_expect_eq(as(owner, OP_CREATE, a1, 0600, 0), 0);
	cr_expect_eq(shmbuf_destroy(root, a1), 0);
	cr_expect_eq(shmbuf_destroy(root, a2), 0);
	cr_expect_eq(shmbuf_destroy(root, a3), 0);
	cr_expect_eq(shmbuf_destroy(root, b1), 0);
	shmbuf_disconnect(root);
	expect_clean_shutdown();
}

struct lease_job {
	struct who who;
	const char *name;
	int third; /* result of the third acquire */
};

/* As who: two read leases on two connections, then a third, while the first two
 * are held. Exit 0 when the third gives j->third. */
static int three_leases(void *arg)
{
	const struct lease_job *j = arg;
	shmbuf_client *c1, *c2;
	shmbuf_view v[3];
	int r;

	become(&j->who);
	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c1) == 0);
	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c2) == 0);
	CHILD_CHECK(shmbuf_acquire(c1, j->name, 0, 1, SHMBUF_READ, 0, &v[0], sizeof(v[0])) == 0);
	CHILD_CHECK(shmbuf_acquire(c2, j->name, 1, 1, SHMBUF_READ, 0, &v[1], sizeof(v[1])) == 0);
	r = shmbuf_acquire(c2, j->name, 2, 1, SHMBUF_READ, 0, &v[2], sizeof(v[2]));
	if (r != j->third)
		fprintf(stderr, "uid %d: third acquire gave %d\n", (int)j->who.uid, r);
	CHILD_CHECK(r == j->third);
	shmbuf_disconnect(c1);
	shmbuf_disconnect(c2);
	return 0;
}

Test(quotas, leases_count_over_all_of_a_users_connections)
{
	shmbuf_client *root;
	const char *s = seg_name("leased");
	struct lease_job a = { owner, s, -EDQUOT }, b = { user_b, s, -EDQUOT };
	struct lease_job r = { { 0, 0, NO_GROUP }, s, 0 };

	shared_daemon_start(quota_args);
	root = client_new();
	cr_assert_eq(shmbuf_create(root, s, 4096, 0644), 0);
	child_expect_exit(child_spawn(three_leases, &a), 0);
	/* Each user has a quota of its own: B's is whole after A's. */
	child_expect_exit(child_spawn(three_leases, &b), 0);
	child_expect_exit(child_spawn(three_leases, &r), 0);
	cr_expect_eq(shmbuf_destroy(root, s), 0);
	shmbuf_disconnect(root);
	expect_clean_shutdown();
}

struct holder {
	struct who who;
	int n;            /* connections to open */
	int last;         /* result wanted of the last */
	struct chan ready, go;
};

/* As who: open n connections (the last must give `last`), say so, wait for go. */
static int hold_connections(void *arg)
{
	struct holder *h = arg;
	shmbuf_client *c[8] = { 0 };
	int r = 0;

	become(&h->who);
	for (int i = 0; i < h->n; i++)
		r = shmbuf_connect(daemon_socket(), &c[i]);
	CHILD_CHECK(r == h->last);
	CHILD_CHECK(chan_send(&h->ready, 'r') == 0);
	CHILD_CHECK(chan_recv(&h->go, 10000) == 'g');
	for (int i = 0; i < h->n; i++)
		if (c[i])
			shmbuf_disconnect(c[i]);
	return 0;
}

Test(quotas, users_cannot_lock_root_out)
{
	static const char *const args[] = { "--max-connections", "4", NULL }; /* per user 2, 1 kept for root */
	struct holder a = { .who = owner, .n = 3, .last = -EDQUOT }, b = { .who = user_b, .n = 2, .last = -EDQUOT };
	shmbuf_client *root, *root2;
	pid_t pa, pb;

	shared_daemon_start(args);
	chan_open(&a.ready);
	chan_open(&a.go);
	chan_open(&b.ready);
	chan_open(&b.go);
	pa = child_spawn(hold_connections, &a); /* 2 held, the third over its user's limit */
	cr_assert_eq(chan_recv(&a.ready, 10000), 'r');
	pb = child_spawn(hold_connections, &b); /* 1 held, the second would take root's reserve */
	cr_assert_eq(chan_recv(&b.ready, 10000), 'r');
	cr_assert_eq(shmbuf_connect(daemon_socket(), &root), 0);
	cr_assert_eq(shmbuf_connect(daemon_socket(), &root2), -EDQUOT); /* the daemon-wide limit still holds */
	chan_send(&a.go, 'g');
	chan_send(&b.go, 'g');
	child_expect_exit(pa, 0);
	child_expect_exit(pb, 0);
	shmbuf_disconnect(root);
	chan_close(&a.ready);
	chan_close(&a.go);
	chan_close(&b.ready);
	chan_close(&b.go);
	expect_clean_shutdown();
}

Test(quotas, users_together_leave_roots_share_of_the_limits)
{
	/* 16 segments daemon-wide, 15 for users; each user may own 8. */
	static const char *const args[] = { "--max-segments", "16", "--user-max-segments", "8", NULL };
	shmbuf_client *root;
	char names[16][64];

	shared_daemon_start(args);
	root = client_new();
	for (int i = 0; i < 15; i++) {
		snprintf(names[i], sizeof(names[i]), "%s.%d", seg_name("fill"), i);
		cr_assert_eq(as(i < 8 ? owner : user_b, OP_CREATE, names[i], 0600, 0), 0, "segment %d", i);
	}
	snprintf(names[15], sizeof(names[15]), "%s.15", seg_name("fill"));
	cr_expect_eq(as(user_b, OP_CREATE, names[15], 0600, 0), -EDQUOT); /* the last one is root's */
	cr_expect_eq(shmbuf_create(root, names[15], 4096, 0600), 0);
	for (int i = 0; i < 16; i++)
		cr_expect_eq(shmbuf_destroy(root, names[i]), 0);
	shmbuf_disconnect(root);
	expect_clean_shutdown();
}
