/* SPDX-License-Identifier: MIT */
/* test_restart.c: segments outlive the daemon: a real shmbufd killed (SIGKILL, SIGTERM) and
 * started again on the same socket adopts what its state record names, bytes included; a corrupt
 * or missing record, or a change cut short, loses nothing; --fresh starts empty; objects nobody
 * recorded go; a long journal reads back exactly. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

TestSuite(restart, .init = daemon_setup, .fini = daemon_teardown, .timeout = 60);

/* Create name with size bytes and fill [0, size) with the pattern of seed. */
static void create_filled(shmbuf_client *c, const char *name, uint64_t size, unsigned mode, uint8_t seed)
{
	shmbuf_view v;

	cr_assert_eq(shmbuf_create(c, name, size, mode), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, size, SHMBUF_WRITE, 5000, &v, sizeof(v)), 0);
	pattern_fill(v.data, v.len, 0, seed);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	/* A call that waits: the quiet RELEASE is done before any kill that follows (else its
	 * lease outlives the daemon, an orphan until the grace period ends). */
	cr_assert_eq(shmbuf_stat(c, name, &(shmbuf_stat_info){ 0 }, sizeof(shmbuf_stat_info)), 0);
}

/* Fail unless name reads back as the pattern of seed, over size bytes. */
static void expect_filled(shmbuf_client *c, const char *name, uint64_t size, uint8_t seed)
{
	shmbuf_view v;
	long bad;

	cr_assert_eq(shmbuf_acquire(c, name, 0, size, SHMBUF_READ, 5000, &v, sizeof(v)), 0, "acquire '%s'", name);
	bad = pattern_mismatch(v.data, v.len, 0, seed);
	cr_expect_eq(bad, -1, "'%s' differs at byte %ld after the restart", name, bad);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
}

/* The path of the (only) state record. */
static const char *state_record(void)
{
	static char path[400];
	DIR *d = opendir(daemon_state_dir());
	struct dirent *e;

	cr_assert(d, "no state directory %s", daemon_state_dir());
	path[0] = '\0';
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len > 6 && strcmp(e->d_name + len - 6, ".state") == 0)
			snprintf(path, sizeof(path), "%s/%s", daemon_state_dir(), e->d_name);
	}
	closedir(d);
	cr_assert(path[0], "no state record in %s", daemon_state_dir());
	return path;
}

static void survive(int sig)
{
	const char *name = seg_name("kept");
	shmbuf_client *c = client_new();
	shmbuf_stat_info before, after;

	create_filled(c, name, 3 * 4096 + 5, 0640, 7);
	cr_assert_eq(shmbuf_stat(c, name, &before, sizeof(before)), 0);
	shmbuf_disconnect(c);
	daemon_kill(sig);
	daemon_restart(NULL);
	c = client_new();
	cr_assert_eq(shmbuf_stat(c, name, &after, sizeof(after)), 0);
	cr_expect_eq(after.size, before.size);
	cr_expect_eq(after.mode, 0640);
	cr_expect_eq(after.uid, before.uid);
	cr_expect_eq(after.gid, before.gid);
	expect_filled(c, name, after.size, 7);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(restart, bytes_written_before_a_kill_are_read_after_it_by_a_new_client)
{
	survive(SIGKILL);
}

Test(restart, sigterm_no_longer_destroys_segments)
{
	survive(SIGTERM);
}

Test(restart, names_sizes_and_ids_survive_and_new_ids_come_after_them)
{
	shmbuf_client *c = client_new();
	shmbuf_segment_info *before, *after;
	size_t n_before, n_after;
	const char *gone = seg_name("gone");

	create_filled(c, seg_name("a"), 4096, 0600, 1);
	create_filled(c, seg_name("b"), 10000, 0644, 2);
	cr_assert_eq(shmbuf_create(c, gone, 100, 0600), 0); /* the highest id, then destroyed */
	cr_assert_eq(shmbuf_resize(c, seg_name("b"), 20000), 0);
	cr_assert_eq(shmbuf_destroy(c, gone), 0);
	cr_assert_eq(shmbuf_list_segments(c, &before, &n_before, sizeof(*before)), 0);
	cr_assert_eq(n_before, 2);
	shmbuf_disconnect(c);
	daemon_kill(SIGKILL);
	daemon_restart(NULL);
	c = client_new();
	cr_assert_eq(shmbuf_list_segments(c, &after, &n_after, sizeof(*after)), 0);
	cr_assert_eq(n_after, n_before);
	for (size_t i = 0; i < n_after; i++) {
		cr_expect_str_eq(after[i].name, before[i].name);
		cr_expect_eq(after[i].id, before[i].id);
		cr_expect_eq(after[i].size, before[i].size);
		cr_expect_eq(after[i].mode, before[i].mode);
		cr_expect_eq(after[i].created_ns, before[i].created_ns);
	}
	expect_filled(c, seg_name("a"), 4096, 1);
	expect_filled(c, seg_name("b"), 10000, 2);
	cr_expect_eq(shmbuf_stat(c, gone, &(shmbuf_stat_info){ 0 }, sizeof(shmbuf_stat_info)), -ENOENT);
	shmbuf_free(after);
	/* A new segment's id comes after every id of the previous run, the destroyed one's too. */
	cr_assert_eq(shmbuf_create(c, seg_name("c"), 4096, 0600), 0);
	cr_assert_eq(shmbuf_list_segments(c, &after, &n_after, sizeof(*after)), 0);
	cr_assert_eq(n_after, 3);
	cr_expect_geq(after[2].id, before[1].id + 2, "id %llu was given again",
		      (unsigned long long)after[2].id);
	shmbuf_free(after);
	shmbuf_free(before);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(restart, fresh_starts_empty_and_removes_the_objects)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("old");
	char object[128], prefix[64];

	create_filled(c, name, 4096, 0600, 3);
	cr_assert_eq(daemon_shm_object(name, object, sizeof(object)), 0);
	snprintf(prefix, sizeof(prefix), "%.*s", (int)(strchr(strchr(object + 8, '.'), '.') - object), object + 1);
	shmbuf_disconnect(c);
	daemon_kill(SIGKILL);
	daemon_restart((const char *const[]){ "--fresh", NULL });
	cr_expect_eq(shm_count(prefix), 0, "--fresh left /dev/shm/%s*", prefix);
	c = client_new();
	cr_expect_eq(shmbuf_stat(c, name, &(shmbuf_stat_info){ 0 }, sizeof(shmbuf_stat_info)), -ENOENT);
	/* And it stays empty at the next ordinary start. */
	shmbuf_disconnect(c);
	daemon_kill(SIGKILL);
	daemon_restart(NULL);
	c = client_new();
	cr_expect_eq(shmbuf_stat(c, name, &(shmbuf_stat_info){ 0 }, sizeof(shmbuf_stat_info)), -ENOENT);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

enum damage { RECORD_GONE, RECORD_CORRUPT, LAST_CHANGE_TORN };

/* A record that does not read back, or whose last change (the create) was cut short: nothing
 * is deleted, every object it does not name becomes "recovered.<object>" with its bytes. */
static void record_lost(enum damage damage)
{
	shmbuf_client *c = client_new();
	const char *name = seg_name("precious");
	char object[128], recovered[160], aside[440];
	const char *record;
	struct stat st;

	create_filled(c, name, 8192, 0600, 9);
	cr_assert_eq(daemon_shm_object(name, object, sizeof(object)), 0);
	shmbuf_disconnect(c);
	daemon_kill(SIGKILL);
	record = state_record();
	cr_assert_eq(stat(record, &st), 0);
	if (damage == LAST_CHANGE_TORN) {
		cr_assert_eq(truncate(record, st.st_size - 5), 0); /* the create's journal line */
	} else if (damage == RECORD_CORRUPT) {
		int fd = open(record, O_WRONLY);

		cr_assert_eq(pwrite(fd, "X", 1, 20), 1); /* inside the whole record: its sum fails */
		close(fd);
	} else {
		cr_assert_eq(unlink(record), 0);
	}
	daemon_restart(NULL);
	if (damage == RECORD_CORRUPT) {
		snprintf(aside, sizeof(aside), "%s.corrupt", record);
		cr_expect_eq(access(aside, F_OK), 0, "the torn record was not kept aside as %s", aside);
	}
	c = client_new();
	cr_expect_eq(shmbuf_stat(c, name, &(shmbuf_stat_info){ 0 }, sizeof(shmbuf_stat_info)), -ENOENT);
	snprintf(recovered, sizeof(recovered), "recovered.%s", object + 1);
	expect_filled(c, recovered, 8192, 9);
	cr_assert_eq(shmbuf_destroy(c, recovered), 0);
	shmbuf_disconnect(c);
	if (damage == RECORD_CORRUPT)
		unlink(aside);
	expect_clean_shutdown();
}

Test(restart, a_corrupt_record_is_set_aside_and_its_objects_recovered)
{
	record_lost(RECORD_CORRUPT);
}

Test(restart, a_missing_record_loses_no_object)
{
	record_lost(RECORD_GONE);
}

Test(restart, a_change_cut_short_keeps_the_object_it_was_about)
{
	record_lost(LAST_CHANGE_TORN);
}

/* Many changes: the journal is folded into a new whole record now and then, and what a
 * restart reads is still exactly what was there. */
Test(restart, a_long_journal_reads_back_exactly)
{
	shmbuf_client *c = client_new();
	shmbuf_segment_info *segs;
	size_t n;
	char name[64];

	for (int i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "%s.%d", seg_name("j"), i);
		cr_assert_eq(shmbuf_create(c, name, 4096, 0600), 0);
		if (i % 3 == 0)
			cr_assert_eq(shmbuf_resize(c, name, 8192 + (uint64_t)i), 0);
		if (i % 5 == 0)
			cr_assert_eq(shmbuf_destroy(c, name), 0);
	}
	shmbuf_disconnect(c);
	daemon_kill(SIGKILL);
	daemon_restart(NULL);
	c = client_new();
	cr_assert_eq(shmbuf_list_segments(c, &segs, &n, sizeof(*segs)), 0);
	cr_assert_eq(n, 120);
	for (size_t k = 0; k < n; k++) {
		int i = atoi(strrchr(segs[k].name, '.') + 1);

		cr_expect_neq(i % 5, 0, "destroyed %s came back", segs[k].name);
		cr_expect_eq(segs[k].size, i % 3 == 0 ? 8192 + (uint64_t)i : 4096, "%s", segs[k].name);
	}
	shmbuf_free(segs);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(restart, a_segment_whose_object_vanished_is_lost_and_the_rest_adopted)
{
	shmbuf_client *c = client_new();
	char object[128];

	create_filled(c, seg_name("stays"), 4096, 0600, 4);
	create_filled(c, seg_name("goes"), 4096, 0600, 5);
	cr_assert_eq(daemon_shm_object(seg_name("goes"), object, sizeof(object)), 0);
	shmbuf_disconnect(c);
	daemon_kill(SIGKILL);
	cr_assert_eq(shm_unlink(object), 0);
	daemon_restart(NULL);
	c = client_new();
	expect_filled(c, seg_name("stays"), 4096, 4);
	cr_expect_eq(shmbuf_stat(c, seg_name("goes"), &(shmbuf_stat_info){ 0 }, sizeof(shmbuf_stat_info)),
		     -ENOENT);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(restart, objects_no_record_names_are_removed)
{
	shmbuf_client *c = client_new();
	char object[128], stray[160];
	int fd;

	create_filled(c, seg_name("named"), 4096, 0600, 6);
	cr_assert_eq(daemon_shm_object(seg_name("named"), object, sizeof(object)), 0);
	shmbuf_disconnect(c);
	daemon_kill(SIGKILL);
	/* What a create cut short by the crash leaves: our prefix, in no record. */
	snprintf(stray, sizeof(stray), "%s9", object);
	fd = shm_open(stray, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0, "shm_open %s: %s", stray, strerror(errno));
	close(fd);
	daemon_restart(NULL);
	cr_expect_eq(shm_unlink(stray), -1, "%s was not removed", stray);
	c = client_new();
	expect_filled(c, seg_name("named"), 4096, 6);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* The memory adopted is the very memory clients had mapped, not a copy: a mapping made before
 * the kill sees bytes written through the restarted daemon. Its client reconnects by itself
 * and keeps its lease. */
Test(restart, a_mapping_from_before_the_kill_sees_writes_made_after_it)
{
	shmbuf_client *old = client_new(), *c;
	const char *name = seg_name("shared");
	shmbuf_view before, w;
	shmbuf_stat_info st;
	const uint8_t *p;

	cr_assert_eq(shmbuf_create(old, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(old, name, 0, 4096, SHMBUF_READ, 5000, &before, sizeof(before)), 0);
	p = before.data;
	daemon_kill(SIGKILL);
	daemon_restart(NULL);
	cr_assert_eq(shmbuf_stat(old, name, &st, sizeof(st)), 0, "no error, only latency");
	cr_expect_eq(shmbuf_reconnects(old), 1);
	cr_expect_eq(st.read_leases, 1, "the read lease was reclaimed");
	c = client_new();
	cr_expect_eq(shmbuf_acquire(c, name, 0, 4096, SHMBUF_WRITE, 0, &w, sizeof(w)), -EBUSY);
	cr_assert_eq(shmbuf_release(old, &before, sizeof(before)), 0);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 4096, SHMBUF_WRITE, 5000, &w, sizeof(w)), 0);
	pattern_fill(w.data, 4096, 0, 11);
	cr_assert_eq(shmbuf_release(c, &w, sizeof(w)), 0);
	cr_expect_eq(pattern_mismatch(p, 4096, 0, 11), -1, "the kept mapping is the same memory");
	shmbuf_disconnect(old);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* --state-dir moves the record; a restart pointed at it adopts from there. */
Test(restart, state_dir_moves_the_record)
{
	char dir[64], *args[3] = { "--state-dir", dir, NULL };
	shmbuf_client *c;
	const char *name = seg_name("moved");
	DIR *d;
	struct dirent *e;
	int records = 0;

	snprintf(dir, sizeof(dir), "/tmp/shmbuf-restart-state.%d", (int)getpid());
	daemon_kill(SIGTERM); /* the suite's daemon, started without the option */
	daemon_restart((const char *const *)args);
	c = client_new();
	create_filled(c, name, 4096, 0600, 12);
	shmbuf_disconnect(c);
	daemon_kill(SIGKILL);
	d = opendir(dir);
	cr_assert(d, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d)))
		records += strstr(e->d_name, ".state") != NULL;
	closedir(d);
	cr_expect_eq(records, 1);
	daemon_restart((const char *const *)args);
	c = client_new();
	expect_filled(c, name, 4096, 12);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		char path[400];

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_name[0] != '.')
			unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

Test(restart, a_consumer_of_generations_misses_no_write_across_a_restart)
{
	const char *name = seg_name("gens");
	shmbuf_client *c = client_new();
	shmbuf_view v;
	uint64_t seen;

	create_filled(c, name, 4096, 0600, 1); /* one write lease: generation 1 */
	cr_assert_eq(shmbuf_acquire(c, name, 0, 4096, SHMBUF_READ, 5000, &v, sizeof(v)), 0);
	seen = v.generation;
	cr_assert_geq(seen, 1);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	/* A call that waits: the quiet RELEASE is done before the kill (else its lease would be
	 * an orphan, of a live process that never reclaims it, until the grace ends). */
	cr_assert_eq(shmbuf_stat(c, name, &(shmbuf_stat_info){ 0 }, sizeof(shmbuf_stat_info)), 0);
	shmbuf_disconnect(c);
	daemon_kill(SIGKILL);
	daemon_restart(NULL);

	/* Generations are not recorded: the restarted daemon counts every adopted range as
	 * written by a generation above any before, so a consumer that had seen `seen` is
	 * given the range at once (one frame again at worst) rather than waiting for a write
	 * that a counter restarted from 0 would never show as newer. */
	c = client_new();
	cr_assert_eq(shmbuf_acquire_newer(c, name, 0, 4096, SHMBUF_READ, seen, 0, &v, sizeof(v)), 0);
	cr_expect_gt(v.generation, seen);
	seen = v.generation;
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_expect_eq(shmbuf_acquire_newer(c, name, 0, 4096, SHMBUF_READ, seen, 0, &v, sizeof(v)), -EAGAIN,
		     "nothing was written since");
	create_filled(c, seg_name("other"), 4096, 0600, 2);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 4096, SHMBUF_WRITE, 5000, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_assert_eq(shmbuf_acquire_newer(c, name, 0, 4096, SHMBUF_READ, seen, 5000, &v, sizeof(v)), 0,
		     "a write after the restart is newer than what was seen");
	cr_expect_gt(v.generation, seen);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* Issue 11 beside issue 10: a sealed segment (a memfd, no object to adopt) is not recorded
 * and is gone after a restart; the record stays readable (its create, its destroy and the
 * whole record rewritten around it), the other segments are adopted, ids never repeat. */
Test(restart, a_sealed_segment_is_gone_after_a_restart_and_the_rest_adopted)
{
	shmbuf_client *c = client_new();
	const char *sealed = seg_name("sealed"), *brief = seg_name("sealed-brief");
	shmbuf_segment_info *before, *after;
	size_t n_before, n_after;
	uint64_t max_id = 0;

	create_filled(c, seg_name("plain"), 4096, 0600, 8);
	create_filled(c, sealed, 8192, 0600 | SHMBUF_SEALED, 9);
	cr_assert_eq(shmbuf_create(c, brief, 4096, 0600 | SHMBUF_SEALED), 0);
	cr_assert_eq(shmbuf_destroy(c, brief), 0);
	cr_assert_eq(shmbuf_list_segments(c, &before, &n_before, sizeof(*before)), 0);
	cr_assert_eq(n_before, 2);
	for (size_t i = 0; i < n_before; i++)
		max_id = before[i].id > max_id ? before[i].id : max_id;
	shmbuf_free(before);
	shmbuf_disconnect(c);
	daemon_kill(SIGKILL);
	daemon_restart(NULL);
	cr_expect(!daemon_log_contains("corrupt"), "the record did not read back");
	c = client_new();
	expect_filled(c, seg_name("plain"), 4096, 8);
	cr_expect_eq(shmbuf_stat(c, sealed, &(shmbuf_stat_info){ 0 }, sizeof(shmbuf_stat_info)), -ENOENT);
	/* Its name is free again, and the new segment's id comes after the sealed ones'. */
	cr_assert_eq(shmbuf_create(c, sealed, 4096, 0600 | SHMBUF_SEALED), 0);
	cr_assert_eq(shmbuf_list_segments(c, &after, &n_after, sizeof(*after)), 0);
	cr_assert_eq(n_after, 2);
	for (size_t i = 0; i < n_after; i++) {
		if (strcmp(after[i].name, sealed) == 0) {
			cr_expect(after[i].flags & SHMBUF_SEGMENT_SEALED);
			cr_expect_gt(after[i].id, max_id + 1, "id %llu was given again", (unsigned long long)after[i].id);
		}
	}
	shmbuf_free(after);
	/* A clean stop and a start from a record written whole (SIGTERM keeps the journal; a
	 * sealed segment in the daemon at a rewrite is left out of it too). */
	shmbuf_disconnect(c);
	daemon_kill(SIGTERM);
	daemon_restart(NULL);
	c = client_new();
	expect_filled(c, seg_name("plain"), 4096, 8);
	cr_expect_eq(shmbuf_stat(c, sealed, &(shmbuf_stat_info){ 0 }, sizeof(shmbuf_stat_info)), -ENOENT);
	cr_assert_eq(shmbuf_destroy(c, seg_name("plain")), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* Runs a second shmbufd on the first one's socket path (and so its state record). */
static int run_second_daemon(void *arg)
{
	int devnull = open("/dev/null", O_WRONLY);

	if (devnull >= 0) {
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
	}
	execl(SHMBUFD_PATH, SHMBUFD_PATH, "--socket", (const char *)arg, (char *)NULL);
	return 127;
}

Test(restart, a_second_daemon_cannot_take_over_a_running_ones_record)
{
	const char *name = seg_name("owned");
	char moved[512];
	shmbuf_client *c = client_new();
	shmbuf_stat_info st;
	shmbuf_view v;
	pid_t pid;
	int status;

	create_filled(c, name, 4096, 0600, 3);
	cr_assert_eq(shmbuf_acquire(c, name, 0, 4096, SHMBUF_READ, 5000, &v, sizeof(v)), 0);
	/* Without its socket file the path looks free: only the record's lock stops a second
	 * daemon from adopting (and later removing) what the first one serves. */
	snprintf(moved, sizeof(moved), "%s.moved", daemon_socket());
	cr_assert_eq(rename(daemon_socket(), moved), 0);
	pid = child_spawn(run_second_daemon, (void *)daemon_socket());
	status = child_wait(pid, 10000);
	cr_assert_neq(status, -ETIMEDOUT, "the second shmbufd kept running");
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0, "the second shmbufd did not refuse to start");
	cr_expect_neq(access(daemon_socket(), F_OK), 0, "the refused daemon left its socket behind");
	cr_assert_eq(rename(moved, daemon_socket()), 0);
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0, "the first daemon still serves its segment");
	expect_filled(c, name, 4096, 3);
	/* Nor did the refused daemon touch the lease table (the lock is taken before the table
	 * is read): the lease held meanwhile is still recorded, and reclaimed across a kill. */
	daemon_kill(SIGKILL);
	daemon_restart(NULL);
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_expect_eq(st.read_leases, 1, "the read lease came back");
	cr_expect_eq(shmbuf_release(c, &v, sizeof(v)), 0, "and was reclaimed");
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* CHMOD and CHOWN are recorded like a resize; an adopted segment is charged to its recorded
 * owner's quotas again and its size is watched like a new one's. */
Test(restart, mode_and_owner_survive_quotas_are_charged_and_sizes_watched)
{
	const char *name = seg_name("owned");
	shmbuf_client *c = client_new();
	shmbuf_user_info *users;
	shmbuf_stat_info st;
	char object[128], path[160];
	size_t n;
	bool found = false;
	int fd;

	if (geteuid() != 0)
		cr_skip_test("chown to another uid needs root");
	create_filled(c, name, 65536, 0600, 12);
	cr_assert_eq(shmbuf_chmod(c, name, 0604), 0);
	cr_assert_eq(shmbuf_chown(c, name, 4321, 4322), 0);
	shmbuf_disconnect(c);
	daemon_kill(SIGKILL);
	daemon_restart(NULL);
	c = client_new();
	cr_assert_eq(shmbuf_stat(c, name, &st, sizeof(st)), 0);
	cr_expect_eq(st.mode, 0604);
	cr_expect_eq(st.uid, 4321);
	cr_expect_eq(st.gid, 4322);
	cr_assert_eq(shmbuf_list_users(c, &users, &n, sizeof(*users)), 0);
	for (size_t i = 0; i < n; i++) {
		if (users[i].uid != 4321)
			continue;
		found = true;
		cr_expect_eq(users[i].segments, 1);
		cr_expect_eq(users[i].bytes, 65536);
	}
	cr_expect(found, "uid 4321 is charged nothing after the restart");
	shmbuf_free(users);
	/* A change of size through the object behind the daemon's back is put back. */
	cr_assert_eq(daemon_shm_object(name, object, sizeof(object)), 0);
	snprintf(path, sizeof(path), "/dev/shm%s", object);
	fd = open(path, O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(ftruncate(fd, 4096), 0);
	cr_expect_eq(fd_size_settles(fd, 65536, 5000), 65536, "an adopted segment's size is not watched");
	close(fd);
	expect_filled(c, name, 4096, 12);
	cr_assert_eq(shmbuf_destroy(c, name), 0);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}
