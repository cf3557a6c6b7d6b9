/* SPDX-License-Identifier: MIT */
/* test_service.c: shmbufd as systemd runs it: socket activation, the notify protocol (readiness,
 * status, watchdog, stopping), journal logging, and SHMBUFD_* settings. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "service_harness.h"
#include "shmbuf.h"

/* ---- a libshmbuf client round trip ---- */

/* Create a segment, write through a write lease, read it back through a read lease on another
 * connection (another mapping of the same memory), destroy it. */
static void round_trip(const char *socket_path, const char *name)
{
	static const char msg[] = "through the daemon's shared memory";
	shmbuf_client *writer, *reader;
	shmbuf_view w, r;

	cr_assert_eq(shmbuf_connect(socket_path, &writer), 0);
	cr_assert_eq(shmbuf_connect(socket_path, &reader), 0);
	cr_assert_eq(shmbuf_create(writer, name, 4096, 0600), 0);
	cr_assert_eq(shmbuf_acquire(writer, name, 0, sizeof(msg), SHMBUF_WRITE, 10000, &w, sizeof(w)), 0);
	memcpy(w.data, msg, sizeof(msg));
	cr_assert_eq(shmbuf_release(writer, &w, sizeof(w)), 0);
	cr_assert_eq(shmbuf_acquire(reader, name, 0, sizeof(msg), SHMBUF_READ, 10000, &r, sizeof(r)), 0);
	cr_assert(r.flags & SHMBUF_VIEW_READONLY);
	cr_assert_str_eq(r.data, msg);
	cr_assert_eq(shmbuf_release(reader, &r, sizeof(r)), 0);
	cr_assert_eq(shmbuf_destroy(writer, name), 0);
	shmbuf_disconnect(reader);
	shmbuf_disconnect(writer);
}

/* ================= socket activation ================= */

TestSuite(activation, .init = svc_setup, .fini = svc_teardown, .timeout = 60);

static void need_socket_activation(void)
{
#ifndef SHMBUF_HAVE_LIBSYSTEMD
	svc_skip("shmbufd was built without libsystemd: it ignores sockets passed by systemd");
#endif
	if (!have_program("systemd-socket-activate"))
		svc_skip("systemd-socket-activate is not installed (Debian package systemd)");
}

static bool exe_is(pid_t pid, const char *suffix)
{
	char link[64], exe[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0)
		return false;
	exe[n] = '\0';
	return n >= (ssize_t)strlen(suffix) && strcmp(exe + n - strlen(suffix), suffix) == 0;
}

Test(activation, serves_a_client_through_the_passed_socket)
{
	const char *sock = in_dir("activated.sock"), *own = in_dir("own.sock"), *log = in_dir("shmbufd.log");
	/* --socket names another path: a daemon that ignored LISTEN_FDS would create it. */
	const char *argv[] = { "systemd-socket-activate", "--seqpacket", "--listen", sock, SHMBUFD_PATH,
			       "--socket", own, "--log-level", "info", NULL };
	struct spawn_opts opts = { .log = log, .stderr_fd = -1 };
	shmbuf_client *c;
	struct stat before, after;
	pid_t pid;
	int r;

	need_socket_activation();
	pid = spawn(argv, &opts);
	wait_for_socket_file(sock);
	cr_assert_eq(stat(sock, &before), 0);
	/* On demand: nothing has connected yet, so shmbufd has not been started. */
	cr_assert(exe_is(pid, "/systemd-socket-activate"));

	/* Between bind() and listen() a connection is refused; after that it waits in the backlog
	 * while shmbufd starts. */
	int64_t deadline = now_ms() + WAIT_MS;
	while ((r = shmbuf_connect(sock, &c)) == -ECONNREFUSED && now_ms() < deadline)
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	cr_assert_eq(r, 0, "connect: %s", shmbuf_strerror(r));
	cr_assert(exe_is(pid, "/shmbufd"), "the activated process should now be shmbufd");
	round_trip(sock, "activated/a");
	shmbuf_disconnect(c);

	cr_assert(file_contains(log, "using the socket passed by systemd"));
	cr_assert_eq(access(own, F_OK), -1, "shmbufd created its own socket %s", own);
	cr_assert_eq(stat(sock, &after), 0);
	cr_assert_eq(after.st_mode, before.st_mode, "shmbufd changed the mode of systemd's socket");
	kill(pid, SIGTERM);
	expect_exit(pid, 0);
	/* The socket is systemd's: it outlives the service (RemoveOnStop= is the socket unit's call). */
	cr_assert_eq(stat(sock, &after), 0, "shmbufd removed systemd's socket");
}

Test(activation, refuses_a_socket_of_another_type)
{
	const char *sock = in_dir("stream.sock"), *log = in_dir("shmbufd.log");
	const char *argv[] = { "systemd-socket-activate", "--listen", sock, SHMBUFD_PATH, NULL };
	struct spawn_opts opts = { .log = log, .stderr_fd = -1 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;
	pid_t pid;

	need_socket_activation();
	pid = spawn(argv, &opts);
	wait_for_socket_file(sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	int64_t deadline = now_ms() + WAIT_MS;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == ECONNREFUSED && now_ms() < deadline)
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	expect_exit(pid, 1);
	close(fd);
	cr_assert(file_contains(log, "not a listening AF_UNIX SOCK_SEQPACKET socket"));
}

/* ================= the notify protocol ================= */

TestSuite(notify, .init = svc_setup, .fini = svc_teardown, .timeout = 60);

static void need_notify(void)
{
#ifndef SHMBUF_HAVE_LIBSYSTEMD
	svc_skip("shmbufd was built without libsystemd: it sends no notifications");
#endif
}

Test(notify, ready_status_then_stopping_on_sigterm)
{
	const char *sock = in_dir("s.sock");
	char msg[512], pidstr[32];
	shmbuf_client *c;
	int nfd;
	pid_t pid;

	need_notify();
	pid = start_daemon(SHMBUFD_PATH, sock, NULL, &nfd, msg, sizeof(msg));
	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	cr_assert(notify_field(msg, "STATUS"), "READY=1 came without a STATUS= line: %s", msg);
	cr_assert(strstr(notify_field(msg, "STATUS"), "0 segments"), "%s", msg);
	cr_assert(notify_field(msg, "MAINPID") && strncmp(notify_field(msg, "MAINPID"), pidstr, strlen(pidstr)) == 0,
		  "%s", msg);
	/* READY=1 means accepting: the first attempt must succeed. */
	cr_assert_eq(shmbuf_connect(sock, &c), 0);
	shmbuf_disconnect(c);

	kill(pid, SIGTERM);
	cr_assert(notify_wait(nfd, "STOPPING", "1", msg, sizeof(msg), WAIT_MS), "no STOPPING=1 after SIGTERM");
	expect_exit(pid, 0);
	cr_assert_eq(access(sock, F_OK), -1, "shmbufd left its own socket behind");
}

Test(notify, watchdog_pings_and_a_status_that_follows_the_state)
{
	const char *sock = in_dir("s.sock");
	const char *env[] = { "WATCHDOG_USEC=200000", NULL };
	char msg[512];
	shmbuf_client *c;
	int nfd, pings = 0;
	int64_t ready, last, gap = 0;
	pid_t pid;

	need_notify();
	pid = start_daemon(SHMBUFD_PATH, sock, env, &nfd, msg, sizeof(msg));
	ready = last = now_ms();
	/* A third of the interval is the plan (~67 ms, 20 pings in ~1.3 s). Allow WAIT_MS for 20, so
	 * a busy machine does not fail the test, while a daemon pinging at its 2 s status period
	 * (40 s for 20) does. */
	while (pings < 20 && notify_wait(nfd, "WATCHDOG", "1", msg, sizeof(msg), (int)(ready + WAIT_MS - now_ms()))) {
		pings++;
		gap = now_ms() - last > gap ? now_ms() - last : gap;
		last = now_ms();
	}
	cr_assert_eq(pings, 20, "%d WATCHDOG=1 pings in %d ms with WATCHDOG_USEC=200000", pings, WAIT_MS);
	cr_log_info("20 pings in %lld ms, longest gap %lld ms", (long long)(last - ready), (long long)gap);

	cr_assert_eq(shmbuf_connect(sock, &c), 0);
	cr_assert_eq(shmbuf_create(c, "status/a", 1 << 20, 0600), 0);
	cr_assert(notify_wait(nfd, "STATUS", "1 segments, 1 MiB of ", msg, sizeof(msg), WAIT_MS),
		  "STATUS= did not follow the new segment; last message: %s", msg);
	cr_assert(strstr(notify_field(msg, "STATUS"), "1 clients"), "%s", msg);
	shmbuf_disconnect(c);

	kill(pid, SIGTERM);
	cr_assert(notify_wait(nfd, "STOPPING", "1", msg, sizeof(msg), WAIT_MS), "no STOPPING=1 after SIGTERM");
	expect_exit(pid, 0);
}

Test(notify, no_pings_when_the_watchdog_is_for_another_process)
{
	const char *sock = in_dir("s.sock");
	/* systemd sets WATCHDOG_PID to the service's main pid; here it names init, not shmbufd. */
	const char *argv[] = { SHMBUFD_PATH, "--socket", sock, NULL };
	char msg[512], notify_var[PATH_MAX + 16];
	const char *env[] = { "WATCHDOG_USEC=200000", "WATCHDOG_PID=1", notify_var, NULL };
	struct spawn_opts opts = { .env = env, .stderr_fd = -1, .log = in_dir("shmbufd.log") };
	int nfd = notify_listen(in_dir("notify"));
	pid_t pid;

	need_notify();
	snprintf(notify_var, sizeof(notify_var), "NOTIFY_SOCKET=%s", in_dir("notify"));
	pid = spawn(argv, &opts);
	cr_assert(notify_wait(nfd, "READY", "1", msg, sizeof(msg), WAIT_MS));
	cr_assert_not(notify_wait(nfd, "WATCHDOG", NULL, msg, sizeof(msg), 500), "unexpected ping: %s", msg);
	kill(pid, SIGTERM);
	expect_exit(pid, 0);
}

/* ================= logging to the journal ================= */

TestSuite(journal, .init = svc_setup, .fini = svc_teardown, .timeout = 60);

/* Start shmbufd with stderr on a pipe and return its first line (the "listening on" notice). */
static pid_t start_logging(bool journal, const char *journal_stream, int *rd, char *line, size_t cap)
{
	const char *sock = in_dir("s.sock");
	const char *argv[] = { SHMBUFD_PATH, "--socket", sock, NULL };
	char var[64];
	const char *env[] = { var, NULL };
	struct spawn_opts opts = { .env = journal_stream ? env : NULL, .stderr_fd = -1, .journal = journal };
	int p[2];
	pid_t pid;
	FILE *f;

	snprintf(var, sizeof(var), "JOURNAL_STREAM=%s", journal_stream ? journal_stream : "");
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	opts.stderr_fd = p[1];
	pid = spawn(argv, &opts);
	close(p[1]);
	*rd = p[0];
	f = fdopen(dup(p[0]), "r");
	cr_assert(fgets(line, (int)cap, f), "shmbufd wrote nothing on stderr");
	fclose(f);
	return pid;
}

Test(journal, priority_prefixes_when_stderr_is_the_journal)
{
	char line[512];
	int rd;
	pid_t pid = start_logging(true, NULL, &rd, line, sizeof(line));

	/* <5> is LOG_NOTICE; journald strips it and sets the priority. */
	cr_assert(strncmp(line, "<5>shmbufd ", 11) == 0, "first line: %s", line);
	kill(pid, SIGTERM);
	expect_exit(pid, 0);
	close(rd);
}

Test(journal, plain_lines_when_journal_stream_names_another_file)
{
	char line[512];
	int rd;
	/* Inherited from a parent whose stderr was the journal; ours is not. */
	pid_t pid = start_logging(false, "1:1", &rd, line, sizeof(line));

	cr_assert(strncmp(line, "shmbufd: notice: shmbufd ", 25) == 0, "first line: %s", line);
	kill(pid, SIGTERM);
	expect_exit(pid, 0);
	close(rd);
}

Test(journal, the_start_up_line_gives_the_byte_limit_in_words)
{
	const char *argv[] = { SHMBUFD_PATH, "--socket", in_dir("mib.sock"), "--max-bytes", "64M", NULL };
	struct spawn_opts opts = { .log = in_dir("mib.log"), .stderr_fd = -1 };
	pid_t pid = spawn(argv, &opts);
	int64_t deadline = now_ms() + WAIT_MS;

	/* The line comes once the daemon is up (signals handled): wait for it, not for the socket. */
	while (!file_contains(in_dir("mib.log"), "listening on") && now_ms() < deadline)
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	kill(pid, SIGTERM);
	expect_exit(pid, 0);
	cr_assert(file_contains(in_dir("mib.log"), "(limits: 64 MiB, "), "%s", read_file(in_dir("mib.log")));
}

Test(journal, a_socket_directory_writable_by_others_is_named_as_such)
{
	const char *dir = in_dir("open"), *log = in_dir("open.log");
	char sock[PATH_MAX];
	const char *argv[] = { SHMBUFD_PATH, "--socket", sock, NULL };
	struct spawn_opts opts = { .log = log, .stderr_fd = -1 };

	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(chmod(dir, 0777), 0);
	expect_exit(spawn(argv, &opts), 1);
	cr_assert(file_contains(log, "is writable by others (mode 0777)"), "%s", read_file(log));
	cr_assert_not(file_contains(log, "cannot create the directory"), "%s", read_file(log));
}

/* ================= SHMBUFD_* settings (EnvironmentFile=) ================= */

TestSuite(environment, .init = svc_setup, .fini = svc_teardown, .timeout = 60);

Test(environment, variables_configure_the_daemon_and_options_win)
{
	const char *sock = in_dir("env.sock");
	char var[PATH_MAX + 32], msg[512];
	const char *env[] = { var, "SHMBUFD_SOCKET_MODE=0600", "SHMBUFD_MAX_SEGMENTS=1", "SHMBUFD_MAX_BYTES=1M",
			      "SHMBUFD_NO_PREALLOC=false", NULL };
	/* No --socket: SHMBUFD_SOCKET names it. --max-segments overrides SHMBUFD_MAX_SEGMENTS. */
	const char *argv[] = { SHMBUFD_PATH, "--max-segments", "2", NULL };
	char notify_var[PATH_MAX + 16];
	const char *envn[8] = { notify_var };
	struct spawn_opts opts = { .env = envn, .log = in_dir("shmbufd.log"), .stderr_fd = -1 };
	int nfd = notify_listen(in_dir("notify"));
	shmbuf_client *c;
	struct stat st;
	pid_t pid;

	snprintf(var, sizeof(var), "SHMBUFD_SOCKET=%s", sock);
	snprintf(notify_var, sizeof(notify_var), "NOTIFY_SOCKET=%s", in_dir("notify"));
	for (int i = 0; env[i]; i++)
		envn[i + 1] = env[i];
	pid = spawn(argv, &opts);
#ifdef SHMBUF_HAVE_LIBSYSTEMD
	cr_assert(notify_wait(nfd, "READY", "1", msg, sizeof(msg), WAIT_MS));
#else
	(void)nfd, (void)msg;
	svc_skip("needs sd_notify readiness (libsystemd)");
#endif
	cr_assert_eq(stat(sock, &st), 0, "SHMBUFD_SOCKET was not used");
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(shmbuf_connect(sock, &c), 0);
	cr_assert_eq(shmbuf_create(c, "env/big", 2 << 20, 0600), -ENOSPC, "SHMBUFD_MAX_BYTES=1M not applied");
	cr_assert_eq(shmbuf_create(c, "env/a", 4096, 0600), 0);
	cr_assert_eq(shmbuf_create(c, "env/b", 4096, 0600), 0, "--max-segments 2 should win over the environment");
	cr_assert_eq(shmbuf_create(c, "env/c", 4096, 0600), -EDQUOT);
	shmbuf_disconnect(c);
	kill(pid, SIGTERM);
	expect_exit(pid, 0);
}

Test(environment, a_bad_value_is_a_configuration_error)
{
	static const char *const bad[] = { "SHMBUFD_NO_PREALLOC=sometimes", "SHMBUFD_MAX_SEGMENTS=0",
					   "SHMBUFD_MAX_BYTES=lots", "SHMBUFD_LOG_LEVEL=chatty",
					   "SHMBUFD_SOCKET_MODE=0999" };
	const char *argv[] = { SHMBUFD_PATH, "--version", NULL };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *env[] = { bad[i], NULL };
		struct spawn_opts opts = { .env = env, .log = in_dir("bad.log"), .stderr_fd = -1 };

		/* Exit status 2 is what RestartPreventExitStatus= in the unit names. */
		cr_log_info("%s", bad[i]);
		expect_exit(spawn(argv, &opts), 2);
	}
}

/* The example configuration documents every option of `shmbufd --help` under its variable,
 * and each of its values (uncommented) is accepted. The manual page names every variable. */
Test(environment, the_example_configuration_covers_every_option)
{
	const char *conf = SHMBUF_SOURCE_DIR "/daemon/systemd/shmbufd.conf";
	const char *argv_help[] = { SHMBUFD_PATH, "--help", NULL };
	struct spawn_opts opts = { .log = in_dir("help.txt"), .stderr_fd = -1 };
	char *help, *text = read_file(conf), *man = read_file(SHMBUF_SOURCE_DIR "/docs/shmbufd.8");
	const char *env[32];
	int n = 0, options = 0;

	cr_assert(text && man);
	expect_exit(spawn(argv_help, &opts), 0);
	help = read_file(in_dir("help.txt"));
	for (char *p = help; (p = strstr(p, "--")); ) {
		char var[80] = "SHMBUFD_";
		size_t len = strspn(p += 2, "abcdefghijklmnopqrstuvwxyz-");

		if (len == 0 || (len == 4 && !strncmp(p, "help", 4)) || (len == 7 && !strncmp(p, "version", 7)))
			continue;
		for (size_t i = 0; i < len && 8 + i + 1 < sizeof(var); i++)
			var[8 + i] = p[i] == '-' ? '_' : (char)toupper((unsigned char)p[i]);
		p += len;
		options++;
		cr_expect(strstr(text, var), "shmbufd.conf does not mention %s", var);
		cr_expect(strstr(man, var), "shmbufd.8 does not mention %s", var);
	}
	cr_assert_geq(options, 10, "parsed only %d options from --help:\n%s", options, help);

	/* Every "#SHMBUFD_X=value" with a value must be accepted: --version exits 0 only then. */
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, "#SHMBUFD_", 9) == 0 && line[strlen(line) - 1] != '=' && n < 31)
			env[n++] = line + 1;
	env[n] = NULL;
	cr_assert_geq(n, 8);
	const char *argv_version[] = { SHMBUFD_PATH, "--version", NULL };
	struct spawn_opts vopts = { .env = env, .log = in_dir("version.txt"), .stderr_fd = -1 };
	expect_exit(spawn(argv_version, &vopts), 0);
	free(help);
	free(text);
	free(man);
}

