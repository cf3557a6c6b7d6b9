/* SPDX-License-Identifier: MIT */
/* test_generation.c: the write-generation interval map against a brute-force model (one stamp per byte). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "generation.h"

#define SIZE 512u

/* The model: the generation that last wrote each byte. */
static uint64_t model[SIZE];

static uint64_t model_newest(uint64_t off, uint64_t len)
{
	uint64_t g = 0;

	for (uint64_t i = off; i < off + len; i++)
		if (model[i] > g)
			g = model[i];
	return g;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Sorted, disjoint, non-empty entries, and no two touching ones with one stamp. */
static void assert_well_formed(const struct genmap *m)
{
	for (uint32_t i = 0; i < m->n; i++) {
		cr_assert_lt(m->v[i].start, m->v[i].end, "entry %u is empty", i);
		if (i > 0) {
			cr_assert_leq(m->v[i - 1].end, m->v[i].start, "entries %u and %u overlap", i - 1, i);
			cr_assert(!(m->v[i - 1].end == m->v[i].start && m->v[i - 1].gen == m->v[i].gen),
				  "entries %u and %u should have merged", i - 1, i);
		}
	}
}

Test(generation, a_fresh_map_is_generation_zero_everywhere)
{
	struct genmap m;

	genmap_init(&m);
	cr_assert_eq(genmap_newest(&m, 0, UINT64_MAX), 0);
	genmap_deinit(&m);
}

Test(generation, a_range_reads_its_newest_write)
{
	struct genmap m;

	genmap_init(&m);
	genmap_record(&m, 0, 100, 1);
	genmap_record(&m, 50, 10, 2);
	genmap_record(&m, 200, 10, 3);
	cr_assert_eq(genmap_newest(&m, 0, 50), 1);
	cr_assert_eq(genmap_newest(&m, 0, 51), 2);
	cr_assert_eq(genmap_newest(&m, 60, 40), 1);
	cr_assert_eq(genmap_newest(&m, 100, 100), 0, "bytes never written are generation 0");
	cr_assert_eq(genmap_newest(&m, 100, 101), 3);
	cr_assert_eq(m.n, 4); /* [0,50) 1, [50,60) 2, [60,100) 1, [200,210) 3 */
	assert_well_formed(&m);
	genmap_deinit(&m);
}

Test(generation, rewriting_the_same_range_keeps_one_entry)
{
	struct genmap m;

	genmap_init(&m);
	for (uint64_t g = 1; g <= 10000; g++)
		genmap_record(&m, 4096, 4096, g);
	cr_assert_eq(m.n, 1);
	cr_assert_eq(genmap_newest(&m, 0, 8192), 10000);
	genmap_deinit(&m);
}

Test(generation, truncate_forgets_what_lies_past_the_size)
{
	struct genmap m;

	genmap_init(&m);
	genmap_record(&m, 0, 100, 1);
	genmap_record(&m, 200, 100, 2);
	genmap_truncate(&m, 250);
	cr_assert_eq(genmap_newest(&m, 250, 1000), 0);
	cr_assert_eq(genmap_newest(&m, 249, 1), 2);
	genmap_truncate(&m, 50);
	cr_assert_eq(m.n, 1);
	cr_assert_eq(genmap_newest(&m, 0, 1000), 1);
	genmap_deinit(&m);
}

Test(generation, random_writes_match_the_per_byte_model)
{
	struct genmap m;

	genmap_init(&m);
	memset(model, 0, sizeof(model));
	for (uint64_t g = 1; g <= 20000; g++) {
		uint64_t off = rng() % SIZE, len = 1 + rng() % (SIZE - off);

		if (rng() % 4 == 0)
			len = 1 + rng() % 8; /* many small writes: splits */
		if (off + len > SIZE)
			len = SIZE - off;
		genmap_record(&m, off, len, g);
		for (uint64_t i = off; i < off + len; i++)
			model[i] = g;
		for (int q = 0; q < 4; q++) {
			uint64_t qo = rng() % SIZE, ql = 1 + rng() % (SIZE - qo);

			cr_assert_eq(genmap_newest(&m, qo, ql), model_newest(qo, ql), "round %llu, query %llu+%llu",
				     (unsigned long long)g, (unsigned long long)qo, (unsigned long long)ql);
		}
		cr_assert_leq(m.n, GENMAP_MAX);
	}
	assert_well_formed(&m);
	genmap_deinit(&m);
}

/* Past GENMAP_MAX runs the map merges: a range may look newer, never older. */
Test(generation, past_the_bound_ranges_look_newer_never_older)
{
	struct genmap m;
	static uint64_t bytes[4 * GENMAP_MAX];
	uint64_t g = 0;

	genmap_init(&m);
	/* Every other byte written once: 2 * GENMAP_MAX separate runs. */
	for (uint64_t i = 0; i < 4 * GENMAP_MAX; i += 2) {
		genmap_record(&m, i, 1, ++g);
		bytes[i] = g;
	}
	cr_assert_leq(m.n, GENMAP_MAX);
	assert_well_formed(&m);
	for (uint64_t i = 0; i < 4 * GENMAP_MAX; i++) {
		uint64_t got = genmap_newest(&m, i, 1);

		cr_assert_geq(got, bytes[i], "byte %llu looks older than it is", (unsigned long long)i);
	}
	/* The newest writes keep their own runs: the oldest are merged first. */
	cr_assert_eq(genmap_newest(&m, 4 * GENMAP_MAX - 2, 1), g);
	cr_assert_eq(genmap_newest(&m, 4 * GENMAP_MAX - 1, 1), 0);
	genmap_deinit(&m);
}
