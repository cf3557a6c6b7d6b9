/* SPDX-License-Identifier: MIT */
/* test_fdstore.c: systemd's fd store keeps segments across a restart that lost both the state
 * record and the objects' names: FDSTORE=1 with FDNAME=seg-<object> on create, the fds back
 * through LISTEN_FDS/LISTEN_FDNAMES, FDSTOREREMOVE=1 on destroy. The test plays systemd on a
 * NOTIFY_SOCKET of its own. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "service_harness.h"
#include "shmbuf.h"

TestSuite(fdstore, .init = svc_setup, .fini = svc_teardown, .timeout = 60);

static void need_notify(void)
{
#ifndef SHMBUF_HAVE_LIBSYSTEMD
	svc_skip("shmbufd was built without libsystemd: it has no fd store");
#endif
}

/* The next notify message carrying key (its text in buf) and the fd that came with it (or -1). */
static int recv_with_fd(int nfd, const char *key, char *buf, size_t cap)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (now_ms() < deadline) {
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct iovec iov = { buf, cap - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
		struct pollfd p = { .fd = nfd, .events = POLLIN };
		struct cmsghdr *c;
		int fd = -1;
		ssize_t n;

		if (poll(&p, 1, (int)(deadline - now_ms())) <= 0)
			break;
		n = recvmsg(nfd, &mh, 0);
		cr_assert_geq(n, 0);
		buf[n] = '\0';
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(c), sizeof(fd));
		if (strstr(buf, key))
			return fd;
		if (fd >= 0)
			close(fd);
	}
	cr_assert_fail("no notify message with %s within %d ms", key, WAIT_MS);
	return -1;
}

/* Create a segment with the store on, crash, lose its object's name (and, with lose_record,
 * the state record), restart with the store's fd: the bytes are there, under the segment's own
 * name when the record says it, else as recovered.<object>. */
static void survive_through_the_store(bool lose_record)
{
	static const char msg[] = "kept by the service manager";
	const char *sock = in_dir("s.sock"), *env1[] = { "SHMBUFD_FD_STORE=yes", NULL };
	const char *argv[] = { SHMBUFD_PATH, "--socket", sock, "--log-level", "info", NULL };
	char first[512], note[512], fdname[128], object[128], names[160], notify_var[PATH_MAX + 16];
	const char *notify = in_dir("s.sock.notify"), *env2[] = { notify_var, names, "SHMBUFD_FD_STORE=yes", NULL };
	struct spawn_opts opts = { .env = env2, .log = in_dir("shmbufd.log"), .stderr_fd = -1 };
	shmbuf_client *c;
	shmbuf_view v;
	int nfd, stored;
	pid_t pid;

	need_notify();
	pid = start_daemon(SHMBUFD_PATH, sock, env1, &nfd, first, sizeof(first));
	cr_assert_eq(shmbuf_connect(sock, &c), 0);
	cr_assert_eq(shmbuf_create(c, "fd/a", 4096, 0640), 0);
	stored = recv_with_fd(nfd, "FDSTORE=1", note, sizeof(note));
	cr_assert_geq(stored, 0, "FDSTORE=1 came without a descriptor: %s", note);
	cr_assert(notify_field(note, "FDNAME"), "FDSTORE=1 without FDNAME=: %s", note);
	snprintf(fdname, sizeof(fdname), "%.*s", (int)strcspn(notify_field(note, "FDNAME"), "\n"),
		 notify_field(note, "FDNAME"));
	cr_assert_eq(strncmp(fdname, "seg-shmbuf.", 11), 0, "FDNAME=%s", fdname);
	cr_assert_eq(shmbuf_acquire(c, "fd/a", 0, sizeof(msg), SHMBUF_WRITE, 5000, &v, sizeof(v)), 0);
	memcpy(v.data, msg, sizeof(msg));
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	/* A call that waits: the quiet RELEASE is done before the kill (else the lease is an orphan). */
	cr_assert_eq(shmbuf_stat(c, "fd/a", &(shmbuf_stat_info){ 0 }, sizeof(shmbuf_stat_info)), 0);
	shmbuf_disconnect(c);

	/* A crash that takes the record and the object's name with it: only the store has it. */
	kill(pid, SIGKILL);
	cr_assert_neq(wait_exit(pid, WAIT_MS), -ETIMEDOUT);
	snprintf(object, sizeof(object), "/%s", fdname + 4);
	cr_assert_eq(shm_unlink(object), 0, "%s: %s", object, strerror(errno));
	if (lose_record)
		expect_sh(in_dir("rm.log"), "rm %s/state/*.state", in_dir("."));
	close(nfd);
	unlink(notify);

	/* systemd starts it again with the store's fds: LISTEN_FDS=1, LISTEN_FDNAMES=seg-... */
	snprintf(names, sizeof(names), "LISTEN_FDNAMES=%s", fdname);
	snprintf(notify_var, sizeof(notify_var), "NOTIFY_SOCKET=%s", notify);
	opts.listen_fd = stored;
	nfd = notify_listen(notify);
	pid = spawn(argv, &opts);
	cr_assert(notify_wait(nfd, "READY", "1", first, sizeof(first), WAIT_MS), "no READY=1; log:\n%s",
		  output_of(in_dir("shmbufd.log")));
	close(stored);

	cr_assert_eq(shmbuf_connect(sock, &c), 0);
	if (lose_record)
		snprintf(names, sizeof(names), "recovered.%s", fdname + 4); /* no record names it */
	else
		snprintf(names, sizeof(names), "fd/a");
	cr_assert_eq(shmbuf_acquire(c, names, 0, sizeof(msg), SHMBUF_READ, 5000, &v, sizeof(v)), 0,
		     "no segment '%s'; log:\n%s", names, output_of(in_dir("shmbufd.log")));
	cr_expect_str_eq(v.data, msg);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	/* Destroyed: the store is told to let go. */
	cr_assert_eq(shmbuf_destroy(c, names), 0);
	recv_with_fd(nfd, "FDSTOREREMOVE=1", note, sizeof(note));
	cr_expect(strstr(note, fdname), "FDSTOREREMOVE=1 for another name: %s", note);
	shmbuf_disconnect(c);
	kill(pid, SIGTERM);
	expect_exit(pid, 0);
	close(nfd);
}

Test(fdstore, a_segment_survives_a_lost_object_name)
{
	survive_through_the_store(false);
}

Test(fdstore, a_segment_survives_a_lost_record_and_object_name)
{
	survive_through_the_store(true);
}
