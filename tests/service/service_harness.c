/* SPDX-License-Identifier: MIT */
/* service_harness.c: helpers of the service suites: a temporary directory per test, child
 * processes with a systemd-like environment, shell commands, and a notify socket to listen on. */
#define _GNU_SOURCE
#include "service_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 8

/* One test per process (Criterion): its temporary directory and the processes it started,
 * so that .fini can clean up after a test that failed half-way. */
static struct {
	char dir[64];
	pid_t children[MAX_CHILDREN];
	int n_children;
} t;

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A path inside this test's directory. Never freed: each test is a process of its own. */
const char *in_dir(const char *fmt, ...)
{
	char *rel, *path;
	va_list ap;

	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&rel, fmt, ap), 0);
	va_end(ap);
	cr_assert_geq(asprintf(&path, "%s/%s", t.dir, rel), 0);
	free(rel);
	return path;
}

static void forget_child(pid_t pid)
{
	for (int i = 0; i < t.n_children; i++)
		if (t.children[i] == pid)
			t.children[i--] = t.children[--t.n_children];
}

void svc_setup(void)
{
	snprintf(t.dir, sizeof(t.dir), "/tmp/shmbuf-svc-XXXXXX");
	cr_assert(mkdtemp(t.dir), "mkdtemp: %s", strerror(errno));
	t.n_children = 0;
}

/* A stopped shmbufd leaves its live segments for the next run, named by its state record
 * ("segment <id> <object> ..." lines): the test's own, removed with its directory. */
static void remove_recorded_objects(const char *record)
{
	char *text = read_file(record), object[300];

	for (char *line = text; line && *line; line = strchrnul(line, '\n'), line += *line == '\n') {
		unsigned long long id;
		char name[256];

		if (sscanf(line, "segment %llu %255s ", &id, name) == 2) {
			snprintf(object, sizeof(object), "/%s", name);
			shm_unlink(object);
		}
	}
	free(text);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	size_t len = strlen(path);

	if (flag == FTW_F && len > 6 && strcmp(path + len - 6, ".state") == 0)
		remove_recorded_objects(path);
	remove(path);
	return 0;
}

void svc_teardown(void)
{
	/* SIGTERM first: a daemon left running by a failed test then writes its state record,
	 * whose objects are removed with the directory. */
	for (int i = 0; i < t.n_children; i++)
		kill(t.children[i], SIGTERM);
	while (t.n_children > 0) {
		pid_t pid = t.children[0];

		if (wait_exit(pid, 2000) == -ETIMEDOUT) {
			kill(pid, SIGKILL);
			if (wait_exit(pid, WAIT_MS) == -ETIMEDOUT)
				forget_child(pid);
		}
	}
	if (t.dir[0])
		nftw(t.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	t.dir[0] = '\0'; /* svc_skip() may have been here first */
}

char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n)
		buf[0] = '\0';
	fclose(f);
	return buf;
}

void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	cr_assert(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

bool file_contains(const char *path, const char *needle)
{
	char *text = read_file(path);
	bool found = text && strstr(text, needle);

	free(text);
	return found;
}

/* ---- child processes ---- */

pid_t spawn(const char *const argv[], const struct spawn_opts *opts)
{
	static const char *const inherited[] = { "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
						 "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "SHMBUF_SOCKET" };
	pid_t pid = fork();

	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		extern char **environ;
		char buf[64];

		for (size_t i = 0; i < sizeof(inherited) / sizeof(inherited[0]); i++)
			unsetenv(inherited[i]);
		for (char **e = environ; *e;) { /* SHMBUFD_*: only what the test says */
			if (strncmp(*e, "SHMBUFD_", 8) == 0) {
				snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(*e, "="), *e);
				unsetenv(buf);
			} else {
				e++;
			}
		}
		for (const char *const *e = opts->env; e && *e; e++)
			putenv(strdup(*e));
		if (opts->log) {
			int fd = open(opts->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

			if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
				_exit(120);
		} else if (opts->stderr_fd >= 0 && dup2(opts->stderr_fd, 2) < 0) {
			_exit(120);
		}
		if (opts->journal) {
			struct stat st;

			if (fstat(2, &st) < 0)
				_exit(120);
			snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long)st.st_dev,
				 (unsigned long long)st.st_ino);
			setenv("JOURNAL_STREAM", buf, 1);
		}
		if (opts->listen_fd > 0) {
			if (dup2(opts->listen_fd, 3) < 0)
				_exit(120);
			snprintf(buf, sizeof(buf), "%d", (int)getpid());
			setenv("LISTEN_PID", buf, 1);
			setenv("LISTEN_FDS", "1", 1);
		}
		if (opts->watchdog_pid_self) {
			snprintf(buf, sizeof(buf), "%d", (int)getpid());
			setenv("WATCHDOG_PID", buf, 1);
		}
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (t.n_children < MAX_CHILDREN)
		t.children[t.n_children++] = pid;
	return pid;
}

/* The wait status of pid once it exits, or -ETIMEDOUT. A pidfd: no polling loop. */
int wait_exit(pid_t pid, int timeout_ms)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), status;
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	cr_assert_geq(pidfd, 0, "pidfd_open: %s", strerror(errno));
	if (poll(&p, 1, timeout_ms) == 0) {
		close(pidfd);
		return -ETIMEDOUT;
	}
	close(pidfd);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	forget_child(pid);
	return status;
}

void expect_exit(pid_t pid, int code)
{
	int status = wait_exit(pid, WAIT_MS);

	cr_assert_neq(status, -ETIMEDOUT, "process %d did not exit within %d ms", (int)pid, WAIT_MS);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == code,
		  "process %d: wanted exit status %d, got wait status %#x", (int)pid, code, status);
}

int sh(const char *log, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_log_info("$ %s", cmd);
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	struct spawn_opts opts = { .log = log, .stderr_fd = -1 };
	status = wait_exit(spawn(argv, &opts), 55000);
	if (status == -ETIMEDOUT)
		return -ETIMEDOUT;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool have_program(const char *name)
{
	char log[PATH_MAX];

	snprintf(log, sizeof(log), "%s/which.log", t.dir);
	return sh(log, "command -v %s", name) == 0;
}

/* ---- the notify socket (what systemd listens on) ---- */

int notify_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s: %s", path, strerror(errno));
	return fd;
}

/* One notify message (lines "KEY=value"), or false when none came within timeout_ms. */
static bool notify_recv(int fd, char *buf, size_t cap, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
		return false;
	n = recv(fd, buf, cap - 1, 0);
	cr_assert_geq(n, 0);
	buf[n] = '\0';
	return true;
}

const char *notify_field(const char *msg, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = msg; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, klen) == 0 && p[klen] == '=')
			return p + klen + 1;
	return NULL;
}

bool notify_wait(int fd, const char *key, const char *want, char *buf, size_t cap, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	const char *v;

	while (notify_recv(fd, buf, cap, (int)(deadline - now_ms())))
		if ((v = notify_field(buf, key)) && (!want || strncmp(v, want, strlen(want)) == 0))
			return true;
	return false;
}

void wait_for_socket_file(const char *path)
{
	int64_t deadline = now_ms() + WAIT_MS;
	struct stat st;

	/* systemd-socket-activate binds the socket after we started it; nothing tells us when. */
	while (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		cr_assert_lt(now_ms(), deadline, "%s did not appear within %d ms", path, WAIT_MS);
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	}
}

/* Without sd_notify (no libsystemd): the socket accepts a connection. */
__attribute__((unused)) static void wait_for_listener(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = now_ms() + WAIT_MS;
	int fd, r;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	do {
		cr_assert_lt(now_ms(), deadline, "nothing listens on %s after %d ms", path, WAIT_MS);
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
	} while (r < 0);
}

pid_t start_daemon(const char *path, const char *socket_path, const char *const *env, int *notify_fd,
		   char *first, size_t cap)
{
	const char *notify = in_dir("%s.notify", strrchr(socket_path, '/') + 1);
	char var[PATH_MAX + 16];
	const char *envv[16];
	size_t n = 0;
	const char *argv[] = { path, "--socket", socket_path, "--log-level", "info", NULL };
	struct spawn_opts opts = { .env = envv, .log = in_dir("shmbufd.log"), .stderr_fd = -1 };
	pid_t pid;

	*notify_fd = notify_listen(notify);
	snprintf(var, sizeof(var), "NOTIFY_SOCKET=%s", notify);
	envv[n++] = var;
	for (; env && *env && n < 15; env++)
		envv[n++] = *env;
	envv[n] = NULL;
	opts.watchdog_pid_self = true;
	pid = spawn(argv, &opts);
#ifdef SHMBUF_HAVE_LIBSYSTEMD
	if (!notify_wait(*notify_fd, "READY", "1", first, cap, WAIT_MS)) {
		char *log = read_file(opts.log);

		cr_assert_fail("shmbufd sent no READY=1 within %d ms; its log:\n%s", WAIT_MS, log ? log : "");
	}
#else
	first[0] = '\0';
	wait_for_listener(socket_path);
#endif
	return pid;
}

char *output_of(const char *log)
{
	char *out = read_file(log);

	cr_assert(out);
	return out;
}

