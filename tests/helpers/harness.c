/* SPDX-License-Identifier: MIT */
/* harness.c: a real shmbufd per test (started, awaited through sd_notify, stopped and checked for
 * leaks), child processes and pipes between them, and /proc-based leak checks. */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 10000
#define MAX_CHILDREN 64

extern char **environ;

/* The test process's one daemon. Global because Criterion's .init/.fini take no
 * arguments; every test runs in a process of its own, so nothing is shared. */
static struct {
	char dir[64];
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char notify_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char log_path[128];
	pid_t pid;
	int fds_at_start; /* this process's, once the daemon is ready */
	int n_starts;     /* daemons started in this test (restarts keep the directory and socket) */
	pid_t children[MAX_CHILDREN];
	int n_children;
} hd;

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- reading the daemon's log ---- */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *nbuf = realloc(buf, cap + 65536);

			if (!nbuf) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nbuf;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* The last lines of the log, so a failing test shows what the daemon said. */
static void dump_log(void)
{
	char *log = read_file(hd.log_path);
	size_t len;

	if (!log) {
		cr_log_error("(no daemon log at %s)", hd.log_path);
		return;
	}
	len = strlen(log);
	cr_log_error("shmbufd log (%s)%s:\n%s", hd.log_path, len > 6000 ? ", last 6000 bytes" : "",
		     len > 6000 ? log + len - 6000 : log);
	free(log);
}

int daemon_shm_object(const char *name, char *out, size_t cap)
{
	char *log = read_file(hd.log_path), *p, needle[300];
	int r = -ENOENT;

	if (!log)
		return -ENOENT;
	/* "created segment '<name>' (<n> bytes, mode <m>) as /shmbuf.<8 hex>.<n>" */
	snprintf(needle, sizeof(needle), "created segment '%s' (", name);
	for (p = strstr(log, needle); p; p = strstr(p + 1, needle)) {
		char *eol = strchrnul(p, '\n'), *as = memmem(p, (size_t)(eol - p), " as /", 5);

		if (as && (size_t)(eol - (as + 4)) < cap) {
			memcpy(out, as + 4, (size_t)(eol - (as + 4)));
			out[eol - (as + 4)] = '\0';
			r = 0;
		}
	}
	free(log);
	return r;
}

bool daemon_log_contains(const char *needle)
{
	char *log = read_file(hd.log_path);
	bool found = log && strstr(log, needle);

	free(log);
	return found;
}

/* The daemon's object prefix ("shmbuf.1a2b3c4d."), from any object it logged; -ENOENT if none. */
static int logged_shm_prefix(char *out, size_t cap)
{
	char *log = read_file(hd.log_path), *p;
	int r = -ENOENT;

	if (!log)
		return -ENOENT;
	p = strstr(log, " as /shmbuf.");
	if (p) {
		char *dot = strchr(p + strlen(" as /shmbuf."), '.');

		if (dot && (size_t)(dot + 1 - (p + 5)) < cap) {
			memcpy(out, p + 5, (size_t)(dot + 1 - (p + 5)));
			out[dot + 1 - (p + 5)] = '\0';
			r = 0;
		}
	}
	free(log);
	return r;
}

/* ---- starting and stopping ---- */

static bool env_is_ours(const char *e)
{
	/* What would change how the daemon starts: systemd's hand-overs and our own options. */
	static const char *const drop[] = { "NOTIFY_SOCKET=", "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=",
					    "JOURNAL_STREAM=", "SHMBUFD_", "SHMBUF_SOCKET=" };

	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (strncmp(e, drop[i], strlen(drop[i])) == 0)
			return false;
	return true;
}

static void exec_daemon(const char *const *extra_args, char *notify_env)
{
	const char *argv[64] = { SHMBUFD_PATH, "--socket", hd.socket_path, "--log-level", "info" };
	size_t argc = 5, envc = 0;
	char **envp;
	int fd;

	for (; extra_args && *extra_args && argc < 63; extra_args++)
		argv[argc++] = *extra_args;
	argv[argc] = NULL;
	for (char **e = environ; *e; e++)
		envc++;
	envp = calloc(envc + 2, sizeof(*envp));
	if (!envp)
		_exit(127);
	envc = 0;
	for (char **e = environ; *e; e++)
		if (env_is_ours(*e))
			envp[envc++] = *e;
	envp[envc++] = notify_env;

	fd = open(hd.log_path, O_WRONLY | O_CREAT | O_APPEND | (hd.n_starts > 1 ? 0 : O_TRUNC), 0600);
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(127);
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, 0) < 0)
		_exit(127);
	/* If the test process dies without its .fini (a crash, a timeout), the daemon goes too. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() == 1)
		_exit(127);
	/* Criterion's and the test's own fds are not the daemon's business. */
	close_range(3, ~0u, 0);
	execve(SHMBUFD_PATH, (char *const *)argv, envp);
	_exit(127);
}

/* Has pid ended? Does not reap it. */
static bool pid_has_ended(pid_t pid)
{
	siginfo_t info = { 0 };

	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

/* Reap pid within timeout_ms; returns its wait status or -ETIMEDOUT. */
static int pid_wait(pid_t pid, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int pidfd = pidfd_open(pid, 0), status;

	if (pidfd >= 0) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		int r;

		do
			r = poll(&pfd, 1, (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0));
		while (r < 0 && errno == EINTR);
		close(pidfd);
		if (r <= 0)
			return -ETIMEDOUT;
	} else {
		/* valgrind 3.19 does not know pidfd_open(): look every millisecond instead. */
		while (!pid_has_ended(pid)) {
			if (now_ms() >= deadline)
				return -ETIMEDOUT;
			poll(NULL, 0, 1);
		}
	}
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return status;
}

/* sd_notify() closes its socket only after sending READY=1, so right after READY
 * the daemon's fd count may still include it. Once the daemon has answered a
 * request it is closed (one thread); a round trip also proves the daemon serves. */
static void settle_after_ready(void)
{
	shmbuf_client *c = client_new();
	int idle = daemon_fd_count() - 1, now;

	shmbuf_disconnect(c);
	/* After a restart, clients of the first run reconnect by themselves at any moment, so
	 * the count is no baseline: the round trip is what matters (sd_notify's socket is gone). */
	if (hd.n_starts > 1)
		return;
	now = daemon_fd_count_settles(idle, 10000);
	cr_assert_eq(now, idle, "shmbufd still has %d fds 10 s after a client left, %d before it came", now,
		     idle);
}

/* Start a daemon in hd's directory and wait for it to be ready. */
static void launch(const char *const *extra_args)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char notify_env[sizeof(hd.notify_path) + 32];
	int64_t deadline;
	int nfd, pidfd;
	bool ready = false;

	hd.n_starts++;
	snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=%s", hd.notify_path);

	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(nfd, 0, "socket: %s", strerror(errno));
	memcpy(sa.sun_path, hd.notify_path, strlen(hd.notify_path) + 1);
	cr_assert_eq(bind(nfd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s: %s", hd.notify_path,
		     strerror(errno));

	fflush(NULL);
	hd.pid = fork();
	cr_assert_geq(hd.pid, 0, "fork: %s", strerror(errno));
	if (hd.pid == 0)
		exec_daemon(extra_args, notify_env);

	/* Ready is a READY=1 datagram; an early exit (bad option, socket in use) ends the wait too. */
	pidfd = pidfd_open(hd.pid, 0); /* -1 under valgrind: then look at the pid every 10 ms */
	deadline = now_ms() + READY_TIMEOUT_MS;
	while (!ready) {
		struct pollfd pfd[2] = { { .fd = nfd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
		int64_t left = deadline - now_ms();
		char msg[512];
		ssize_t n;
		int r;

		if (left <= 0)
			break;
		r = poll(pfd, 2, pidfd >= 0 ? (int)left : 10);
		if (r < 0 && errno != EINTR)
			break;
		if (pfd[1].revents || (pidfd < 0 && pid_has_ended(hd.pid)))
			break;
		n = recv(nfd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
		if (n <= 0)
			continue;
		msg[n] = '\0';
		ready = strncmp(msg, "READY=1", 7) == 0 || strstr(msg, "\nREADY=1");
	}
	if (pidfd >= 0)
		close(pidfd);
	close(nfd);
	unlink(hd.notify_path);
	if (!ready) {
		int status = pid_wait(hd.pid, 0);

		dump_log();
		if (status == -ETIMEDOUT) {
			kill(hd.pid, SIGKILL);
			pid_wait(hd.pid, STOP_TIMEOUT_MS);
		}
		hd.pid = 0;
		unlink(hd.log_path);
		unlink(hd.socket_path);
		rmdir(hd.dir);
		cr_assert_fail("shmbufd did not become ready within %d ms (%s)", READY_TIMEOUT_MS,
			       status == -ETIMEDOUT ? "still running" : "it exited");
	}
	settle_after_ready();
	if (hd.n_starts == 1) /* a restart may come while clients of the first run are still open */
		hd.fds_at_start = fd_count();
}

void daemon_start(const char *const *extra_args)
{
	memset(&hd, 0, sizeof(hd));
	snprintf(hd.dir, sizeof(hd.dir), "/tmp/shmbuf-itest.XXXXXX");
	cr_assert_not_null(mkdtemp(hd.dir), "mkdtemp: %s", strerror(errno));
	snprintf(hd.socket_path, sizeof(hd.socket_path), "%s/shmbufd.sock", hd.dir);
	snprintf(hd.notify_path, sizeof(hd.notify_path), "%s/notify", hd.dir);
	snprintf(hd.log_path, sizeof(hd.log_path), "%s/shmbufd.log", hd.dir);
	launch(extra_args);
}

void daemon_kill(int sig)
{
	int status;

	cr_assert_gt(hd.pid, 0, "no daemon to kill");
	cr_assert_eq(kill(hd.pid, sig), 0);
	status = pid_wait(hd.pid, STOP_TIMEOUT_MS);
	cr_assert_neq(status, -ETIMEDOUT, "shmbufd did not end within %d ms of signal %d", STOP_TIMEOUT_MS, sig);
	hd.pid = 0;
	if (sig == SIGKILL)
		unlink(hd.notify_path);
}

void daemon_restart(const char *const *extra_args)
{
	cr_assert_eq(hd.pid, 0, "daemon_restart() after daemon_kill()");
	launch(extra_args);
}

const char *daemon_state_dir(void)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/state", hd.dir);
	return path;
}

static void reap_children(void)
{
	for (int i = 0; i < hd.n_children; i++) {
		if (hd.children[i] <= 0)
			continue;
		if (waitpid(hd.children[i], NULL, WNOHANG) == 0) {
			kill(hd.children[i], SIGKILL);
			waitpid(hd.children[i], NULL, 0);
		}
		hd.children[i] = 0;
	}
	hd.n_children = 0;
}

/* Stop the daemon and check what it left; returns false when anything is wrong
 * (each problem is reported with cr_expect_* as well). */
static bool daemon_stop(void)
{
	char prefix[64], *log;
	bool have_prefix, ok = true;
	int status, left;

	reap_children();
	if (hd.pid <= 0)
		return true;
	have_prefix = logged_shm_prefix(prefix, sizeof(prefix)) == 0;
	kill(hd.pid, SIGTERM);
	status = pid_wait(hd.pid, STOP_TIMEOUT_MS);
	if (status == -ETIMEDOUT) {
		kill(hd.pid, SIGKILL);
		pid_wait(hd.pid, STOP_TIMEOUT_MS);
	}
	hd.pid = 0;
	log = read_file(hd.log_path);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    (log && (strstr(log, "runtime error:") || strstr(log, "Sanitizer") ||
		     strstr(log, "shmbufd: error:"))))
		dump_log();
	if (status == -ETIMEDOUT) {
		cr_expect_fail("shmbufd did not stop within %d ms of SIGTERM", STOP_TIMEOUT_MS);
		ok = false;
	} else if (status < 0 || WIFSIGNALED(status)) {
		cr_expect_fail("shmbufd was killed by signal %d (%s)", WTERMSIG(status),
			       strsignal(WTERMSIG(status)));
		ok = false;
	} else if (WEXITSTATUS(status) != 0) {
		cr_expect_fail("shmbufd exited with status %d", WEXITSTATUS(status));
		ok = false;
	}
	if (log && strstr(log, "runtime error:")) {
		cr_expect_fail("UBSan reported undefined behaviour in shmbufd");
		ok = false;
	}
	if (log && strstr(log, "Sanitizer")) {
		cr_expect_fail("a sanitizer reported an error in shmbufd");
		ok = false;
	}
	if (log && strstr(log, "shmbufd: error:")) {
		cr_expect_fail("shmbufd logged an error");
		ok = false;
	}
	free(log);
	if (access(hd.socket_path, F_OK) == 0) {
		cr_expect_fail("shmbufd left its socket %s behind", hd.socket_path);
		ok = false;
	}
	/* Only this daemon's prefix: other tests' daemons run at the same time. What a stopped
	 * daemon leaves is its live segments, each named by its state record; the test removes them. */
	if (have_prefix && (left = state_remove_recorded_objects(prefix)) != 0) {
		cr_expect_fail("shmbufd left %d objects /dev/shm/%s* that its state record does not name", left,
			       prefix);
		ok = false;
	}
	state_remove_dir();
	unlink(hd.log_path);
	unlink(hd.socket_path);
	unlink(hd.notify_path);
	if (rmdir(hd.dir) < 0) {
		cr_expect_fail("rmdir %s: %s", hd.dir, strerror(errno));
		ok = false;
	}
	return ok;
}

void expect_clean_shutdown(void)
{
	int fds = fd_count();

	cr_expect_eq(fds, hd.fds_at_start, "%d fds open now, %d when the test started: something leaked", fds,
		     hd.fds_at_start);
	cr_assert(daemon_stop(), "shmbufd did not stop cleanly (see above)");
}

void daemon_setup(void)
{
	daemon_start(NULL);
}

void daemon_teardown(void)
{
	/* Normally expect_clean_shutdown() has stopped it already. */
	if (hd.pid > 0)
		cr_log_warn("the test ended before expect_clean_shutdown(); stopping shmbufd");
	daemon_stop();
}

const char *daemon_socket(void)
{
	return hd.socket_path;
}

pid_t daemon_pid(void)
{
	return hd.pid;
}

static int count_dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int daemon_fd_count(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)hd.pid);
	return count_dir_entries(path);
}

int daemon_fd_count_settles(int want, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int n;

	/* The daemon closes a connection's socket on the loop iteration after it
	 * notices the hang-up; nothing tells us when, so look until it has. */
	while ((n = daemon_fd_count()) != want && now_ms() < deadline)
		poll(NULL, 0, 2);
	return n;
}

shmbuf_client *client_new(void)
{
	shmbuf_client *c = NULL;
	int r = shmbuf_connect(hd.socket_path, &c);

	cr_assert_eq(r, 0, "shmbuf_connect(%s): %s (%s)", hd.socket_path, shmbuf_strerror(r),
		     shmbuf_last_error_detail());
	return c;
}

const char *seg_name(const char *tag)
{
	static char ring[8][128];
	static unsigned next;
	char *s = ring[next++ % 8];

	snprintf(s, sizeof(ring[0]), "%s.%d", tag, (int)getpid());
	return s;
}

/* ---- child processes and pipes ---- */

pid_t child_spawn(int (*fn)(void *arg), void *arg)
{
	pid_t pid;

	cr_assert_lt(hd.n_children, MAX_CHILDREN, "too many children");
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* Some children die on purpose; no core files for those. */
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(fn(arg));
	}
	hd.children[hd.n_children++] = pid;
	return pid;
}

static void forget_child(pid_t pid)
{
	for (int i = 0; i < hd.n_children; i++)
		if (hd.children[i] == pid)
			hd.children[i] = 0;
}

int child_wait(pid_t pid, int timeout_ms)
{
	int status = pid_wait(pid, timeout_ms);

	if (status >= 0)
		forget_child(pid);
	return status;
}

void child_expect_exit(pid_t pid, int code)
{
	int status = child_wait(pid, 10000);

	cr_assert_neq(status, -ETIMEDOUT, "child %d still runs after 10 s", (int)pid);
	cr_assert_geq(status, 0, "waiting for child %d: %s", (int)pid, strerror(-status));
	cr_assert(WIFEXITED(status), "child %d was killed by signal %d", (int)pid,
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	cr_assert_eq(WEXITSTATUS(status), code, "child %d exited with %d, expected %d", (int)pid,
		     WEXITSTATUS(status), code);
}

void child_expect_signal(pid_t pid, int sig)
{
	int status = child_wait(pid, 10000);

	cr_assert_neq(status, -ETIMEDOUT, "child %d still runs after 10 s", (int)pid);
	cr_assert_geq(status, 0, "waiting for child %d: %s", (int)pid, strerror(-status));
	cr_assert(WIFSIGNALED(status), "child %d exited with %d instead of dying by signal %d", (int)pid,
		  WIFEXITED(status) ? WEXITSTATUS(status) : -1, sig);
	cr_assert_eq(WTERMSIG(status), sig, "child %d died by signal %d, expected %d", (int)pid,
		     WTERMSIG(status), sig);
}

void chan_open(struct chan *ch)
{
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0, "pipe2: %s", strerror(errno));
	ch->rd = p[0];
	ch->wr = p[1];
}

void chan_close(struct chan *ch)
{
	if (ch->rd >= 0)
		close(ch->rd);
	if (ch->wr >= 0)
		close(ch->wr);
	ch->rd = ch->wr = -1;
}

int chan_send(struct chan *ch, char byte)
{
	ssize_t n;

	do
		n = write(ch->wr, &byte, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -errno;
}

int chan_recv(struct chan *ch, int timeout_ms)
{
	struct pollfd pfd = { .fd = ch->rd, .events = POLLIN };
	unsigned char byte;
	ssize_t n;
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	n = read(ch->rd, &byte, 1);
	if (n < 0)
		return -errno;
	return n == 0 ? -EPIPE : byte;
}

int wait_for_waiters(shmbuf_client *c, const char *name, uint32_t waiters, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	shmbuf_stat_info st;

	for (;;) {
		int r = shmbuf_stat(c, name, &st, sizeof(st));

		if (r < 0)
			return r;
		if (st.waiters == waiters)
			return 0;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		poll(NULL, 0, 1);
	}
}

/* ---- leak checks and memory ---- */

int fd_count(void)
{
	int n = count_dir_entries("/proc/self/fd");

	return n > 0 ? n - 1 : n; /* minus opendir's own */
}

int mapping_of(const void *addr, char perms[5], char *path, size_t cap)
{
	FILE *f = fopen("/proc/self/maps", "re");
	uintptr_t a = (uintptr_t)addr;
	char line[4096];
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;
		char p[5];
		int off = 0;

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %4s %*s %*s %*s%n", &lo, &hi, p, &off) < 3)
			continue;
		if (a < lo || a >= hi)
			continue;
		memcpy(perms, p, 5);
		{
			char *s = line + off;

			s += strspn(s, " ");
			s[strcspn(s, "\n")] = '\0';
			snprintf(path, cap, "%s", s);
		}
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

int shm_count(const char *prefix)
{
	DIR *d = opendir("/dev/shm");
	size_t plen = strlen(prefix);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, prefix, plen) == 0)
			n++;
	closedir(d);
	return n;
}

static uint8_t pattern_byte(uint64_t at, uint8_t seed)
{
	/* Varies with every offset bit, so a shifted copy does not match by accident. */
	uint64_t x = (at + 1) * 0x9e3779b97f4a7c15ull ^ seed * 0xbf58476d1ce4e5b9ull;

	return (uint8_t)(x >> 56) ^ (uint8_t)at;
}

void pattern_fill(void *p, size_t len, uint64_t start, uint8_t seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		b[i] = pattern_byte(start + i, seed);
}

long pattern_mismatch(const void *p, size_t len, uint64_t start, uint8_t seed)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != pattern_byte(start + i, seed))
			return (long)i;
	return -1;
}

bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

shmbuf_server_status daemon_status(void)
{
	shmbuf_client *c = client_new();
	shmbuf_server_status st;

	cr_assert_eq(shmbuf_server_status_get(c, &st, sizeof(st)), 0);
	shmbuf_disconnect(c);
	return st;
}

off_t fd_size_settles(int fd, off_t want, int timeout_ms)
{
	struct stat st = { 0 };

	for (int64_t end = now_ms() + timeout_ms; now_ms() < end; usleep(5000))
		if (fstat(fd, &st) == 0 && st.st_size == want)
			break;
	return st.st_size;
}
