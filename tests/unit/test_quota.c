/* SPDX-License-Identifier: MIT */
/* test_quota.c: daemon/quota.c's accounting: per-user charges, exemptions, root's reserve. */
#include <criterion/criterion.h>

#include "quota.h"

static struct server_limits limits = {
	.max_bytes = 1600, .max_segments = 32, .max_connections = 64, .max_user_connections = 2,
	.user_max_bytes = 400, .user_max_segments = 2, .user_max_leases = 3, .max_leases = 10,
};
static struct quota q;

static void setup(void)
{
	quota_init(&q, &limits);
}

static void teardown(void)
{
	quota_deinit(&q);
}

TestSuite(quota, .init = setup, .fini = teardown);

Test(quota, segments_are_charged_to_their_owner_until_they_go)
{
	quota_segment(&q, 1000, 300, +1);
	cr_expect_eq(quota_user_find(&q, 1000)->segments, 1);
	cr_expect_eq(quota_user_find(&q, 1000)->bytes, 300);
	cr_expect(quota_user_bytes_would_exceed(&q, 1000, 101));
	cr_expect_not(quota_user_bytes_would_exceed(&q, 1000, 100));
	cr_expect_not(quota_user_bytes_would_exceed(&q, 1001, 400)); /* another user: its own quota */
	quota_segment(&q, 1000, 50, +1);
	cr_expect(quota_user_segments_are_full(&q, 1000));
	quota_bytes_change(&q, 1000, 50, 100);
	cr_expect_eq(quota_user_find(&q, 1000)->bytes, 400);
	cr_expect_eq(q.bytes, 400);
	quota_segment(&q, 1000, 100, -1);
	quota_segment(&q, 1000, 300, -1);
	cr_expect_null(quota_user_find(&q, 1000), "a user that uses nothing is forgotten");
	cr_expect_eq(q.bytes, 0);
	cr_expect_eq(q.n_segments, 0);
}

Test(quota, a_chown_moves_the_charge)
{
	quota_segment(&q, 1000, 300, +1);
	quota_segment_moves(&q, 1000, 0, 300);
	cr_expect_null(quota_user_find(&q, 1000));
	cr_expect_eq(quota_user_find(&q, 0)->bytes, 300);
	cr_expect_eq(q.bytes, 300);
	cr_expect_eq(q.n_segments, 1);
	quota_segment(&q, 0, 300, -1);
}

Test(quota, connections_and_leases_per_user)
{
	struct quota_user *u;

	quota_conn(&q, 1000, +1);
	quota_conn(&q, 1000, +1);
	cr_expect_not(quota_user_is_over(&q, 1000, false));
	quota_conn(&q, 1000, +1);
	cr_expect(quota_user_is_over(&q, 1000, false));
	cr_expect_not(quota_user_is_over(&q, 1000, true), "exempt users are never over");
	u = quota_user_find(&q, 1000);
	for (int i = 0; i < 3; i++)
		quota_lease(u, +1);
	cr_expect(quota_user_leases_are_full(u, &limits));
	quota_lease(u, -1);
	cr_expect_not(quota_user_leases_are_full(u, &limits));
	quota_lease(u, -1);
	quota_lease(u, -1);
	for (int i = 0; i < 3; i++)
		quota_conn(&q, 1000, -1);
	cr_expect_null(quota_user_find(&q, 1000));
	cr_expect_eq(q.n_conns, 0);
}

Test(quota, a_sixteenth_is_kept_for_root)
{
	cr_expect_eq(quota_conn_reserve(&limits), 4);
	for (int i = 0; i < 60; i++)
		quota_conn(&q, (uid_t)(2000 + i), +1);
	cr_expect(quota_conns_are_full(&q, false));
	cr_expect_not(quota_conns_are_full(&q, true));
	cr_expect(quota_others_would_exceed(&q, 0, 1501)); /* 1600 less 100 */
	cr_expect_not(quota_others_would_exceed(&q, 0, 1500));
	for (int i = 0; i < 60; i++)
		quota_conn(&q, (uid_t)(2000 + i), -1);
}
