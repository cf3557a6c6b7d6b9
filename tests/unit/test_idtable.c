/* SPDX-License-Identifier: MIT */
/* test_idtable.c: libshmbuf's id table (client/lib/idtable.c) on its own. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "idtable.h"

static int tag[4096];

Test(idtable, finds_what_was_inserted_and_nothing_else)
{
	struct idtable t = { 0 };

	cr_assert_null(idtable_find(&t, 1), "an empty table finds nothing");
	cr_assert_eq(idtable_insert(&t, 7, &tag[7], 70), 0);
	struct idtable_slot *s = idtable_find(&t, 7);
	cr_assert_not_null(s);
	cr_assert_eq(s->ptr, &tag[7]);
	cr_assert_eq(s->len, 70);
	cr_assert_null(idtable_find(&t, 8));
	idtable_deinit(&t);
}

Test(idtable, refuses_a_key_twice)
{
	struct idtable t = { 0 };

	cr_assert_eq(idtable_insert(&t, 3, &tag[3], 0), 0);
	cr_assert_eq(idtable_insert(&t, 3, &tag[4], 0), -EEXIST);
	cr_assert_eq(idtable_find(&t, 3)->ptr, &tag[3], "the first entry stays");
	idtable_deinit(&t);
}

Test(idtable, grows_and_keeps_every_entry)
{
	struct idtable t = { 0 };

	for (uint64_t k = 1; k < 4096; k++)
		cr_assert_eq(idtable_insert(&t, k, &tag[k], (size_t)k), 0);
	cr_assert_eq(t.count, 4095);
	cr_assert_leq(t.count * 2, t.mask + 1, "at most half full");
	for (uint64_t k = 1; k < 4096; k++) {
		struct idtable_slot *s = idtable_find(&t, k);

		cr_assert_not_null(s, "key %llu lost", (unsigned long long)k);
		cr_assert_eq(s->ptr, &tag[k]);
		cr_assert_eq(s->len, (size_t)k);
	}
	idtable_deinit(&t);
}

Test(idtable, removal_keeps_the_rest_of_a_probe_run_reachable)
{
	struct idtable t = { 0 };

	/* Many keys in a 16..8192-slot table make long probe runs; removing
	 * every third must leave every other one findable (backward shift). */
	for (uint64_t k = 1; k <= 3000; k++)
		cr_assert_eq(idtable_insert(&t, k, &tag[k], 0), 0);
	for (uint64_t k = 3; k <= 3000; k += 3)
		idtable_remove(&t, idtable_find(&t, k));
	cr_assert_eq(t.count, 2000);
	for (uint64_t k = 1; k <= 3000; k++) {
		if (k % 3 == 0)
			cr_assert_null(idtable_find(&t, k), "removed key %llu still found", (unsigned long long)k);
		else
			cr_assert_eq(idtable_find(&t, k)->ptr, &tag[k], "key %llu lost", (unsigned long long)k);
	}
	/* A removed key may come back. */
	cr_assert_eq(idtable_insert(&t, 300, &tag[1], 0), 0);
	cr_assert_eq(idtable_find(&t, 300)->ptr, &tag[1]);
	idtable_deinit(&t);
}

struct seen {
	unsigned n;
	uint64_t key_sum;
};

static void count_entry(void *arg, uint64_t key, void *ptr, size_t len)
{
	struct seen *s = arg;

	s->n++;
	s->key_sum += key;
	cr_assert_eq(ptr, &tag[key]);
}

Test(idtable, clear_hands_over_every_entry_once_and_empties)
{
	struct idtable t = { 0 };
	struct seen seen = { 0 };

	for (uint64_t k = 1; k <= 100; k++)
		cr_assert_eq(idtable_insert(&t, k, &tag[k], 0), 0);
	idtable_clear(&t, count_entry, &seen);
	cr_assert_eq(seen.n, 100);
	cr_assert_eq(seen.key_sum, 5050);
	cr_assert_eq(t.count, 0);
	for (uint64_t k = 1; k <= 100; k++)
		cr_assert_null(idtable_find(&t, k));
	cr_assert_eq(idtable_insert(&t, 5, &tag[5], 0), 0, "usable after clear");
	idtable_deinit(&t);
	cr_assert_null(idtable_find(&t, 5), "usable after deinit, and empty");
	idtable_clear(&t, NULL, NULL);
}
