/* SPDX-License-Identifier: MIT */
/* test_segments.c: segments and ranges against a real shmbufd: ranges and offsets, resize,
 * destroy while leased, release mistakes, leaks on disconnect, and the daemon's limits. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"

TestSuite(segments, .init = daemon_setup, .fini = daemon_teardown, .timeout = 30);

#define KiB 1024u
#define MiB (1024u * 1024u)

/* ---- ranges ---- */

Test(segments, length_zero_means_to_the_end_of_the_segment)
{
	const char *name = seg_name("tail");
	shmbuf_client *c = client_new();
	shmbuf_view v;

	cr_assert_eq(shmbuf_create(c, name, 10000, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &v, sizeof(v)), 0);
	cr_assert_eq(v.len, 10000);
	cr_assert_eq(v.offset, 0);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 100, 0, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	cr_assert_eq(v.len, 9900);
	cr_assert_eq(v.offset, 100);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 9999, 0, SHMBUF_READ, 0, &v, sizeof(v)), 0, "the last byte alone");
	cr_assert_eq(v.len, 1);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(segments, ranges_outside_the_segment_are_refused_with_erange)
{
	const char *name = seg_name("range");
	shmbuf_client *c = client_new();
	shmbuf_stat_info st;
	shmbuf_view v;

	cr_assert_eq(shmbuf_create(c, name, 10000, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 9990, 11, SHMBUF_READ, 0, &v, sizeof(v)), -ERANGE, "one byte past the end");
	cr_assert_str_neq(shmbuf_last_error_detail(), "", "the daemon says why");
	cr_assert_eq(shmbuf_acquire(c, name, 0, 10001, SHMBUF_WRITE, 0, &v, sizeof(v)), -ERANGE);
	cr_assert_eq(shmbuf_acquire(c, name, 10000, 0, SHMBUF_READ, 0, &v, sizeof(v)), -ERANGE, "offset == size");
	cr_assert_eq(shmbuf_acquire(c, name, 10000, 1, SHMBUF_READ, 0, &v, sizeof(v)), -ERANGE, "offset == size");
	cr_assert_eq(shmbuf_acquire(c, name, UINT64_MAX - 1, 10, SHMBUF_READ, 0, &v, sizeof(v)), -ERANGE,
		     "overflowing end");
	cr_assert_eq(shmbuf_acquire(c, name, 1, UINT64_MAX, SHMBUF_READ, 0, &v, sizeof(v)), -ERANGE, "overflowing end");
	cr_assert_eq(shmbuf_acquire(c, name, 0, UINT64_MAX, SHMBUF_WRITE, -1, &v, sizeof(v)), -ERANGE,
		     "refused, not queued, even when willing to wait");
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.read_leases + st.write_leases + st.waiters, 0, "refusals leave nothing behind");
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(segments, an_unaligned_write_lands_at_its_exact_offset)
{
	const char *name = seg_name("unaligned");
	shmbuf_client *c = client_new();
	shmbuf_view w, r;

	cr_assert_eq(shmbuf_create(c, name, 3 * 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 4097, 10, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	cr_assert_eq(w.offset, 4097);
	cr_assert_eq(w.len, 10);
	memcpy(w.data, "0123456789", 10);
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	/* Across a page boundary as well. */
	cr_assert_eq(shmbuf_acquire(c, name, 8190, 5, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	memcpy(w.data, "ABCDE", 5);
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);

	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &r, sizeof(r)), 0);
	cr_assert(all_zero(r.data, 4097), "nothing before offset 4097");
	cr_assert_arr_eq((uint8_t *)r.data + 4097, "0123456789", 10);
	cr_assert(all_zero((uint8_t *)r.data + 4107, 8190 - 4107));
	cr_assert_arr_eq((uint8_t *)r.data + 8190, "ABCDE", 5);
	cr_assert(all_zero((uint8_t *)r.data + 8195, 3 * 4096 - 8195), "nothing after");
	cr_assert_eq(shmbuf_release(c, &r, sizeof(r)), 0);

	/* And read back through an unaligned read view. */
	cr_assert_eq(shmbuf_acquire(c, name, 4099, 3, SHMBUF_READ, 0, &r, sizeof(r)), 0);
	cr_assert_arr_eq(r.data, "234", 3);
	cr_assert_eq(shmbuf_release(c, &r, sizeof(r)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- resize ---- */

Test(segments, shrinking_below_a_leased_byte_is_refused_and_above_it_allowed)
{
	const char *name = seg_name("shrink");
	shmbuf_client *c = client_new();
	shmbuf_stat_info st;
	shmbuf_view r;

	cr_assert_eq(shmbuf_create(c, name, 3 * 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 4096, 100, SHMBUF_READ, 0, &r, sizeof(r)), 0);
	cr_assert_eq(shmbuf_resize(c, name, 4195), -EBUSY, "byte 4195 is leased");
	cr_assert_eq(shmbuf_resize(c, name, 1), -EBUSY);
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.size, 3 * 4096, "a refused resize changes nothing");
	cr_assert_eq(shmbuf_resize(c, name, 8192), 0, "above every leased byte");
	cr_assert_eq(shmbuf_resize(c, name, 4196), 0, "right after the last leased byte");
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.size, 4196);
	cr_assert_eq(shmbuf_release(c, &r, sizeof(r)), 0);
	cr_assert_eq(shmbuf_resize(c, name, 1), 0, "nothing leased any more");
	cr_assert_eq(shmbuf_resize(c, name, 0), -EINVAL);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(segments, growing_keeps_a_mapped_view_valid)
{
	const char *name = seg_name("grow");
	shmbuf_client *c = client_new();
	shmbuf_stat_info st;
	shmbuf_view w, tail, all;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	pattern_fill(w.data, w.len, 0, 3);
	cr_assert_eq(shmbuf_resize(c, name, MiB), 0);
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.size, MiB);

	cr_assert_eq(pattern_mismatch(w.data, w.len, 0, 3), -1, "the old view still reads");
	pattern_fill(w.data, w.len, 0, 4); /* and still writes */
	cr_assert_eq(shmbuf_acquire(c, name, 4096, 0, SHMBUF_READ, 0, &tail, sizeof(tail)), 0,
		     "the new bytes can be leased");
	cr_assert_eq(tail.len, MiB - 4096);
	cr_assert(all_zero(tail.data, tail.len), "grown bytes read as zero");
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_release(c, &tail, sizeof(tail)), 0);

	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &all, sizeof(all)), 0);
	cr_assert_eq(pattern_mismatch(all.data, 4096, 0, 4), -1, "writes made after the resize are there");
	cr_assert_eq(shmbuf_release(c, &all, sizeof(all)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

static int wait_for_whole_segment(void *arg)
{
	const char *name = arg;
	shmbuf_client *c = NULL;
	shmbuf_view v;
	int r;

	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c) == 0);
	r = shmbuf_acquire(c, name, 0, 8192, SHMBUF_WRITE, -1, &v, sizeof(v));
	shmbuf_disconnect(c);
	return r == -ERANGE ? 0 : r == -ENOENT ? 2 : r == 0 ? 1 : 3;
}

Test(segments, a_waiter_whose_range_is_cut_off_by_a_shrink_gets_erange)
{
	const char *name = seg_name("cutoff");
	shmbuf_client *c = client_new();
	shmbuf_view w;
	pid_t pid;

	cr_assert_eq(shmbuf_create(c, name, 8192, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 100, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	pid = child_spawn(wait_for_whole_segment, (void *)name);
	cr_assert_eq(wait_for_waiters(c, name, 1, 10000), 0);
	cr_assert_eq(shmbuf_resize(c, name, 4096), 0, "only granted leases hold a shrink back");
	child_expect_exit(pid, 0);
	cr_assert_eq(wait_for_waiters(c, name, 0, 10000), 0);
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- destroy ---- */

Test(segments, destroying_a_leased_segment_removes_the_name_at_once_and_keeps_the_memory)
{
	const char *name = seg_name("destroy");
	shmbuf_client *c = client_new();
	char old_object[128], new_object[128], path[160];
	shmbuf_stat_info st;
	shmbuf_view w, old, fresh;

	cr_assert_eq(shmbuf_create(c, name, 8192, 0600), 0);
	cr_assert_eq(daemon_shm_object(name, old_object, sizeof(old_object)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	pattern_fill(w.data, w.len, 0, 5);
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &old, sizeof(old)), 0);

	cr_assert_eq(shmbuf_destroy(c, name), 0);
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), -ENOENT);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &fresh, sizeof(fresh)), -ENOENT);
	cr_assert_eq(shmbuf_resize(c, name, 100), -ENOENT);
	cr_assert_eq(shmbuf_destroy(c, name), -ENOENT);
	snprintf(path, sizeof(path), "/dev/shm%s", old_object);
	cr_assert_eq(access(path, F_OK), -1, "%s is unlinked while still leased", path);

	cr_assert_eq(shmbuf_create(c, name, 8192, 0600), 0, "the name is free again");
	cr_assert_eq(daemon_shm_object(name, new_object, sizeof(new_object)), 0);
	cr_assert_str_neq(new_object, old_object, "a new object");
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &fresh, sizeof(fresh)), 0,
		     "the old lease is not on the new one");
	cr_assert(all_zero(fresh.data, fresh.len), "new memory");
	pattern_fill(fresh.data, fresh.len, 0, 6);
	cr_assert_eq(pattern_mismatch(old.data, old.len, 0, 5), -1, "the old view still reads the old data");

	cr_assert_eq(shmbuf_release(c, &old, sizeof(old)), 0, "the old lease is released normally");
	cr_assert_eq(shmbuf_release(c, &fresh, sizeof(fresh)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

static int wait_for_destroyed(void *arg)
{
	const char *name = arg;
	shmbuf_client *c = NULL;
	shmbuf_view v;
	int r;

	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c) == 0);
	r = shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, -1, &v, sizeof(v));
	shmbuf_disconnect(c);
	return r == -ENOENT ? 0 : r == 0 ? 1 : 2;
}

Test(segments, a_waiter_on_a_destroyed_segment_gets_enoent)
{
	const char *name = seg_name("gone");
	shmbuf_client *c = client_new();
	shmbuf_view w;
	pid_t pid;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &w, sizeof(w)), 0);
	pid = child_spawn(wait_for_destroyed, (void *)name);
	cr_assert_eq(wait_for_waiters(c, name, 1, 10000), 0);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	child_expect_exit(pid, 0);
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- release mistakes, disconnects and leaks ---- */

Test(segments, releasing_twice_fails_with_enoent_and_harms_nothing)
{
	const char *name = seg_name("twice");
	shmbuf_client *c = client_new();
	shmbuf_view v, copy, fake = { .lease_id = 987654321 };
	shmbuf_stat_info st;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	copy = v;
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_assert_null(v.data, "the view is zeroed");
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), -ENOENT);
	cr_assert_eq(shmbuf_release(c, &copy, sizeof(copy)), -ENOENT, "a stale copy of the view");
	cr_assert_eq(shmbuf_release(c, &fake, sizeof(fake)), -ENOENT, "a lease id never granted");

	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0, "the client still works");
	cr_assert_eq(st.write_leases, 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(segments, disconnecting_unmaps_views_and_closes_every_fd)
{
	const char *name = seg_name("leak");
	shmbuf_client *c, *other;
	int fds_before = fd_count();
	char perms[5], path[512];
	shmbuf_view v[6], w;
	shmbuf_stat_info st;

	c = client_new();
	cr_assert_eq(shmbuf_create(c, name, 64 * KiB, 0600), 0);
	for (int i = 0; i < 6; i++) {
		unsigned flags = i % 2 ? SHMBUF_READ : SHMBUF_WRITE;

		cr_assert_eq(shmbuf_acquire(c, name, (uint64_t)i * 8 * KiB + 3, 100, flags, 0, &v[i], sizeof(v[i])), 0);
	}
	cr_assert_eq(fd_count(), fds_before + 3, "one socket and one kept fd per segment and mode, not one per view");
	cr_assert_eq(shmbuf_release(c, &v[0], sizeof(v[0])), 0);
	cr_assert_eq(shmbuf_release(c, &v[3], sizeof(v[3])), 0);
	shmbuf_disconnect(c);

	cr_assert_eq(fd_count(), fds_before, "disconnect closes the socket");
	for (int i = 0; i < 6; i++)
		cr_assert(mapping_of(v[i].data, perms, path, sizeof(path)) < 0 ||
				  !strstr(path, "/dev/shm/shmbuf."),
			  "view %d is still mapped after disconnect (%s)", i, path);

	/* The daemon ends the four leases still held when the client went: a writer
	 * over the whole segment gets in (waiting covers the daemon noticing the hang-up). */
	other = client_new();
	cr_assert_eq(shmbuf_acquire(other, name, 0, 0, SHMBUF_WRITE, 10000, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_stat(other, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.read_leases, 0);
	cr_assert_eq(st.write_leases, 1);
	cr_assert_eq(shmbuf_release(other, &w, sizeof(w)), 0);
	shmbuf_disconnect(other);
	expect_clean_shutdown();
}

Test(segments, create_refuses_a_taken_name_and_bad_arguments)
{
	const char *name = seg_name("create");
	shmbuf_client *c = client_new();
	char long_name[300], odd_name[64];
	shmbuf_stat_info st;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0640), 0);
	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), -EEXIST);
	cr_assert_eq(shmbuf_create(c, seg_name("zero"), 0, 0600), -EINVAL);
	cr_assert_eq(shmbuf_create(c, seg_name("mode"), 1, 01000), -EINVAL);
	cr_assert_eq(shmbuf_create(c, "/slash", 1, 0600), -EINVAL);
	cr_expect(strstr(shmbuf_last_error_detail(), "starts with '/'"), "%s", shmbuf_last_error_detail());
	cr_assert_eq(shmbuf_create(c, "", 1, 0600), -EINVAL);
	cr_expect(strstr(shmbuf_last_error_detail(), "empty"), "%s", shmbuf_last_error_detail());
	cr_assert_eq(shmbuf_acquire(c, "ab\tc", 0, 0, SHMBUF_READ, 0, &(shmbuf_view){ 0 },
				    sizeof(shmbuf_view)), -EINVAL);
	cr_expect(strstr(shmbuf_last_error_detail(), "byte 0x09 at position 3"), "%s", shmbuf_last_error_detail());
	memset(long_name, 'n', 256);
	long_name[256] = '\0';
	cr_assert_eq(shmbuf_create(c, long_name, 1, 0600), -ENAMETOOLONG);
	cr_expect(strstr(shmbuf_last_error_detail(), "longer than 255 bytes"), "%s", shmbuf_last_error_detail());
	/* Spaces and a trailing '/' are fine: names are keys, never paths. */
	snprintf(odd_name, sizeof(odd_name), "%s with space/", seg_name("odd"));
	cr_assert_eq(shmbuf_create(c, odd_name, 1, 0600), 0);
	long_name[255] = '\0';
	cr_assert_eq(shmbuf_create(c, long_name, 1, 0600), 0, "255 bytes is the limit, inclusive");
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.size, 4096);
	cr_assert_eq(st.mode, 0640);
	cr_assert_eq(st.uid, getuid());
	cr_assert_eq(st.gid, getgid());
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- processes and descriptors ---- */

struct inherited {
	shmbuf_client *c;
	shmbuf_view v;
	const char *name;
};

static int use_inherited_client(void *arg)
{
	struct inherited *in = arg;
	shmbuf_stat_info st;

	CHILD_CHECK(shmbuf_release(in->c, &in->v, sizeof(in->v)) == -ECONNRESET);
	CHILD_CHECK(shmbuf_stat(in->c, in->name, &st, sizeof(st)) == -ECONNRESET);
	CHILD_CHECK(strstr(shmbuf_last_error_detail(), "fork") != NULL);
	shmbuf_disconnect(in->c); /* allowed: closes only the child's copy */
	return 0;
}

Test(segments, a_client_inherited_across_fork_refuses_calls_and_leaves_the_parents_lease_alone)
{
	struct inherited in = { .c = client_new(), .name = seg_name("fork") };
	shmbuf_stat_info st;

	cr_assert_eq(shmbuf_create(in.c, in.name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(in.c, in.name, 0, 0, SHMBUF_WRITE, 0, &in.v, sizeof(in.v)), 0);
	child_expect_exit(child_spawn(use_inherited_client, &in), 0);
	cr_assert_eq(shmbuf_stat(in.c, in.name, &st, sizeof(st)), 0, "the parent's connection still works");
	cr_assert_eq(st.write_leases, 1, "the parent's lease is still held");
	memset(in.v.data, 7, 16); /* and still mapped */
	cr_assert_eq(shmbuf_release(in.c, &in.v, sizeof(in.v)), 0);
	shmbuf_disconnect(in.c);
	expect_clean_shutdown();
}

static int acquire_without_free_fds(void *arg)
{
	const char *name = arg;
	struct rlimit rl = { .rlim_cur = 64, .rlim_max = 64 };
	shmbuf_client *c;
	shmbuf_view v;
	int spare, r;

	CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHILD_CHECK(shmbuf_connect(daemon_socket(), &c) == 0);
	while ((spare = dup(0)) >= 0) /* use up every descriptor */
		;
	r = shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &v, sizeof(v));
	CHILD_CHECK(r == -EMFILE);
	close(63);
	close(62);
	CHILD_CHECK(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &v, sizeof(v)) == 0); /* the connection survived */
	CHILD_CHECK(shmbuf_release(c, &v, sizeof(v)) == 0);
	shmbuf_disconnect(c);
	return 0;
}

Test(segments, an_acquire_with_no_free_descriptor_fails_with_emfile_and_keeps_the_connection)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("nofd");
	shmbuf_stat_info st;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	child_expect_exit(child_spawn(acquire_without_free_fds, (void *)name), 0);
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_assert_eq(st.read_leases, 0, "the lease whose fd was lost was released");
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- limits ---- */

static void limited_setup(void)
{
	static const char *const args[] = { "--max-bytes", "1M", "--max-segments", "2", "--max-leases", "3",
					    "--max-segment-leases", "4", NULL };

	daemon_start(args);
}

TestSuite(limits, .init = limited_setup, .fini = daemon_teardown, .timeout = 30);

Test(limits, the_byte_limit_refuses_creates_and_growth_with_enospc)
{
	shmbuf_client *c = client_new();
	const char *a = seg_name("a"), *b = seg_name("b");

	cr_assert_eq(shmbuf_create(c, a, 768 * KiB, 0600), 0);
	cr_assert_eq(shmbuf_create(c, b, 512 * KiB, 0600), -ENOSPC);
	cr_expect_str_eq(shmbuf_last_error_detail(), "512 KiB more would pass the byte limit of 1 MiB (768 KiB in use)");
	cr_assert_eq(shmbuf_create(c, b, 256 * KiB, 0600), 0, "exactly the limit");
	cr_assert_eq(shmbuf_resize(c, b, 256 * KiB + 1), -ENOSPC);
	cr_assert_eq(shmbuf_resize(c, a, 512 * KiB), 0, "shrinking frees room");
	cr_assert_eq(shmbuf_resize(c, b, 512 * KiB), 0, "which growth may use");
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(limits, the_segment_limit_refuses_a_third_segment_with_edquot)
{
	shmbuf_client *c = client_new();
	const char *a = seg_name("a"), *b = seg_name("b"), *third = seg_name("c");

	cr_assert_eq(shmbuf_create(c, a, 1, 0600), 0);
	cr_assert_eq(shmbuf_create(c, b, 1, 0600), 0);
	cr_assert_eq(shmbuf_create(c, third, 1, 0600), -EDQUOT);
	cr_assert_eq(shmbuf_destroy(c, a), 0);
	cr_assert_eq(shmbuf_create(c, third, 1, 0600), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(limits, a_destroyed_segment_counts_until_its_last_lease_ends)
{
	shmbuf_client *c = client_new();
	const char *a = seg_name("a"), *b = seg_name("b"), *third = seg_name("c");
	shmbuf_view v;

	cr_assert_eq(shmbuf_create(c, a, 512 * KiB, 0600), 0);
	cr_assert_eq(shmbuf_create(c, b, 1, 0600), 0);
	cr_assert_eq(shmbuf_acquire(c, a, 0, 0, SHMBUF_READ, 0, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_destroy(c, a), 0);
	cr_assert_eq(shmbuf_create(c, third, 1, 0600), -EDQUOT, "a's memory still exists");
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_create(c, third, 1, 0600), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(limits, a_fourth_lease_on_one_connection_fails_with_edquot)
{
	shmbuf_client *c = client_new(), *other = client_new();
	const char *name = seg_name("leases");
	shmbuf_view v[4], o;

	cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &v[i], sizeof(v[i])), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &v[3], sizeof(v[3])), -EDQUOT);
	cr_assert_eq(shmbuf_acquire(other, name, 0, 0, SHMBUF_READ, 0, &o, sizeof(o)), 0, "the limit is per connection");
	cr_assert_eq(shmbuf_release(c, &v[0], sizeof(v[0])), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 0, SHMBUF_READ, 0, &v[3], sizeof(v[3])), 0,
		     "a released lease frees a place");
	for (int i = 1; i < 4; i++)
		cr_assert_eq(shmbuf_release(c, &v[i], sizeof(v[i])), 0);
	cr_assert_eq(shmbuf_release(other, &o, sizeof(o)), 0);
	shmbuf_disconnect(c);
	shmbuf_disconnect(other);
	expect_clean_shutdown();
}

Test(limits, a_segment_holds_at_most_max_segment_leases_from_all_clients)
{
	shmbuf_client *c = client_new(), *d = client_new();
	const char *a = seg_name("a");
	shmbuf_stat_info st;
	shmbuf_view v[5];

	cr_assert_eq(shmbuf_create(c, a, 4096, 0600), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(shmbuf_acquire(c, a, 0, 1, SHMBUF_READ, 0, &v[i], sizeof(v[i])), 0);
	cr_assert_eq(shmbuf_acquire(d, a, 0, 1, SHMBUF_READ, 0, &v[3], sizeof(v[3])), 0, "the fourth, from another client");
	cr_assert_eq(shmbuf_acquire(d, a, 0, 1, SHMBUF_READ, 0, &v[4], sizeof(v[4])), -EDQUOT, "%s", shmbuf_last_error_detail());
	cr_assert_eq(shmbuf_release(c, &v[0], sizeof(v[0])), 0);
	/* A release is not waited for: c's next call is handled after it. */
	cr_assert_eq(shmbuf_stat(c, a, &st, sizeof(st)), 0);
	cr_assert_eq(shmbuf_acquire(d, a, 0, 1, SHMBUF_READ, 0, &v[4], sizeof(v[4])), 0, "room again after a release");
	for (int i = 1; i < 5; i++)
		cr_assert_eq(shmbuf_release(i < 3 ? c : d, &v[i], sizeof(v[i])), 0);
	shmbuf_disconnect(c);
	shmbuf_disconnect(d);
	expect_clean_shutdown();
}
