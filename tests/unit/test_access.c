/* SPDX-License-Identifier: MIT */
/* test_access.c: daemon/access.c's permission decisions, with no daemon around them. */
#include <criterion/criterion.h>
#include <errno.h>

#include "access.h"

#define DAEMON_UID 900

static const gid_t no_groups[1];
static const gid_t supp[] = { 10, 4300 };

static struct access_cred cred(uid_t uid, gid_t gid)
{
	return (struct access_cred){ .uid = uid, .gid = gid, .groups = no_groups, .n_groups = 0,
				     .daemon_uid = DAEMON_UID };
}

static const struct access_obj seg640 = { .uid = 4242, .gid = 4300, .mode = 0640 };

Test(access, owner_uses_the_owner_bits)
{
	struct access_cred c = cred(4242, 4242);

	cr_expect_eq(access_check(&c, &seg640, ACCESS_SEE), 0);
	cr_expect_eq(access_check(&c, &seg640, ACCESS_READ), 0);
	cr_expect_eq(access_check(&c, &seg640, ACCESS_WRITE), 0);
	cr_expect_eq(access_check(&c, &seg640, ACCESS_OWN), 0);
}

Test(access, group_through_primary_or_supplementary_group)
{
	struct access_cred primary = cred(1, 4300), by_supp = cred(2, 2);

	by_supp.groups = supp;
	by_supp.n_groups = 2;
	cr_expect(access_in_group(&by_supp, 4300));
	cr_expect_not(access_in_group(&by_supp, 4301));
	for (int i = 0; i < 2; i++) {
		const struct access_cred *c = i ? &by_supp : &primary;

		cr_expect_eq(access_check(c, &seg640, ACCESS_SEE), 0);
		cr_expect_eq(access_check(c, &seg640, ACCESS_READ), 0);
		cr_expect_eq(access_check(c, &seg640, ACCESS_WRITE), -EACCES);
		cr_expect_eq(access_check(c, &seg640, ACCESS_OWN), -EPERM);
	}
}

Test(access, no_bit_means_invisible)
{
	struct access_cred c = cred(65534, 65534);

	cr_expect_eq(access_check(&c, &seg640, ACCESS_SEE), -ENOENT);
	cr_expect_eq(access_check(&c, &seg640, ACCESS_READ), -ENOENT);
	cr_expect_eq(access_check(&c, &seg640, ACCESS_WRITE), -ENOENT);
	cr_expect_eq(access_check(&c, &seg640, ACCESS_OWN), -ENOENT);
}

Test(access, one_class_applies_as_for_files)
{
	struct access_obj o = { .uid = 4242, .gid = 4300, .mode = 0064 };
	struct access_cred owner = cred(4242, 4300), member = cred(1, 4300), other = cred(2, 2);

	/* The owner is not helped by the group's or others' bits, but sees its own. */
	cr_expect_eq(access_check(&owner, &o, ACCESS_SEE), 0);
	cr_expect_eq(access_check(&owner, &o, ACCESS_READ), -EACCES);
	cr_expect_eq(access_check(&owner, &o, ACCESS_OWN), 0);
	cr_expect_eq(access_check(&member, &o, ACCESS_WRITE), 0);
	cr_expect_eq(access_check(&other, &o, ACCESS_READ), 0);
	cr_expect_eq(access_check(&other, &o, ACCESS_WRITE), -EACCES);
	o.mode = 0604;
	cr_expect_eq(access_check(&member, &o, ACCESS_SEE), -ENOENT); /* the group's class has nothing */
}

Test(access, root_and_the_daemon_pass_everything)
{
	struct access_obj o = { .uid = 4242, .gid = 4300, .mode = 0 };
	struct access_cred root = cred(0, 0), daemon = cred(DAEMON_UID, 5);

	for (int want = ACCESS_SEE; want <= ACCESS_OWN; want++) {
		cr_expect_eq(access_check(&root, &o, (enum access_want)want), 0);
		cr_expect_eq(access_check(&daemon, &o, (enum access_want)want), 0);
	}
	cr_expect(access_is_privileged(&daemon));
	cr_expect_eq(access_check_chown(&root, &o, 7, 7), 0);
	cr_expect_eq(access_check_chown(&daemon, &o, 7, 7), 0);
}

Test(access, chown_by_the_owner_keeps_the_uid_and_picks_its_groups)
{
	struct access_cred owner = cred(4242, 4242), member = cred(1, 4300);
	const gid_t keep = (gid_t)-1;

	owner.groups = supp;
	owner.n_groups = 2;
	cr_expect_eq(access_check_chown(&owner, &seg640, (uid_t)-1, 10), 0);
	cr_expect_eq(access_check_chown(&owner, &seg640, 4242, 4242), 0);
	cr_expect_eq(access_check_chown(&owner, &seg640, 4242, keep), 0);
	cr_expect_eq(access_check_chown(&owner, &seg640, 4243, keep), -EPERM);
	cr_expect_eq(access_check_chown(&owner, &seg640, (uid_t)-1, 11), -EPERM);
	cr_expect_eq(access_check_chown(&member, &seg640, (uid_t)-1, 4300), -EPERM);
	cr_expect_eq(access_check_chown(&(struct access_cred){ .uid = 3, .gid = 3, .groups = no_groups,
							       .daemon_uid = DAEMON_UID },
					&seg640, (uid_t)-1, 3),
		     -ENOENT);
}

Test(access, names_under_uid_n_are_uid_ns)
{
	struct access_cred c = cred(4242, 4242), root = cred(0, 0);

	cr_expect_eq(access_check_create_name(&c, "frames"), 0);
	cr_expect_eq(access_check_create_name(&c, "uid/4242/frames"), 0);
	cr_expect_eq(access_check_create_name(&c, "uid/4242/"), 0);
	cr_expect_eq(access_check_create_name(&c, "uid/4243/frames"), -EACCES);
	cr_expect_eq(access_check_create_name(&c, "uid/04242/frames"), -EACCES);
	cr_expect_eq(access_check_create_name(&c, "uid/4242"), -EACCES);
	cr_expect_eq(access_check_create_name(&c, "uid//x"), -EACCES);
	cr_expect_eq(access_check_create_name(&c, "uid/99999999999999999999/x"), -EACCES);
	cr_expect_eq(access_check_create_name(&c, "uidx/4243/frames"), 0);
	cr_expect_eq(access_check_create_name(&root, "uid/4243/frames"), 0);
}
