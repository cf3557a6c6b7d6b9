/* SPDX-License-Identifier: MIT */
/* bench.c: shmbuf_bench, the benchmark of issue 8. Starts its own shmbufd on a private
 * socket, measures every figure of the issue together with its reference in the same run,
 * and prints one Markdown table: figure, reference, ratio, target, met or not.
 *
 * Every loop is bounded both in count and in time; every figure is the median over
 * repeated runs (reps), each run a batch of rounds. libshmbuf is reached only through
 * bench_shmbuf.c. Run with --help for the options; ./scripts/bench builds and runs it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_shmbuf.h"
#include "uv_echo.h"

#define KiB (1024ull)
#define MiB (1024ull * 1024ull)
#define MAXREPS 15
#define MAXSAMPLES 5000
#define STOP_TOKEN 0xffffffffu
#define ECHO_MSG 64 /* bytes of the bare round trip: about one shmbuf request */

/* ---- options and run-wide state ------------------------------------------ */

static int quick;
static int reps = 5;
static double scale = 2.0; /* time budgets are multiplied by this (--quick: 0.5) */
static const char *only;
static const char *daemon_path = SHMBUFD_PATH;
static const char *python_path = "/usr/bin/python3";

static char dir[] = "/tmp/shmbuf-bench.XXXXXX";
static char sock_path[96], notify_path[96], echo_path[96];
static pid_t daemon_pid = -1, echo_pid = -1, uvecho_pid = -1;
static int echo_fd = -1; /* our end of the bare SEQPACKET echo child */
static sb_client *cl;    /* the main process's client */
static pid_t main_pid;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void cleanup(void)
{
	pid_t *pids[] = { &echo_pid, &uvecho_pid, &daemon_pid };

	for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
		if (*pids[i] <= 0)
			continue;
		kill(*pids[i], SIGTERM);
		/* bounded: 5 s, then SIGKILL */
		for (int n = 0; n < 500 && waitpid(*pids[i], NULL, WNOHANG) == 0; n++)
			poll(NULL, 0, 10);
		if (waitpid(*pids[i], NULL, WNOHANG) == 0) {
			kill(*pids[i], SIGKILL);
			waitpid(*pids[i], NULL, 0);
		}
		*pids[i] = -1;
	}
	unlink(notify_path);
	unlink(echo_path);
	unlink(sock_path);
	rmdir(dir);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "shmbuf_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	if (getpid() == main_pid) /* only the main process cleans up */
		cleanup();
	exit(1);
}

/* --deadline passed, or SIGINT/SIGTERM: stop the daemon and the reference servers (the
 * batch children see their pipes close or their connection reset, and exit). */
static void on_abort(int sig)
{
	static const char msg[] = "shmbuf_bench: deadline passed or interrupted: stopping\n";

	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing to do */
	}
	cleanup();
	_exit(sig == SIGALRM ? 3 : 128 + sig);
}

static void child_die(const char *what, int err)
{
	fprintf(stderr, "shmbuf_bench: child: %s: %s\n", what, err < 0 ? sb_strerror(err) : strerror(err));
	_exit(1);
}

/* fork(), with the child back to the default signal actions (on_abort is the main process's). */
static pid_t bench_fork(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
	}
	return pid;
}

/* ---- time, statistics ---------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of v[0..n), nearest rank; sorts v. */
static double quantile(double *v, int n, double q)
{
	int i;

	if (n <= 0)
		return -1;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	i = (int)(q * n + 0.999999) - 1;
	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static double median(double *v, int n)
{
	return quantile(v, n, 0.5);
}

/* A batch: at least min_n rounds, at most max_n, and no new round once budget_s has passed. */
struct batch {
	int min_n, max_n;
	double budget_s;
};

static int batch_more(const struct batch *b, int done, uint64_t t0)
{
	if (done < b->min_n)
		return 1;
	if (done >= b->max_n)
		return 0;
	return (double)(now_ns() - t0) < b->budget_s * scale * 1e9;
}

/* ---- small I/O helpers --------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n > 0) {
		ssize_t r = read(fd, c, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static void put_u32(int fd, uint32_t v)
{
	if (write_all(fd, &v, sizeof(v)) < 0)
		die("token write: %s", strerror(errno));
}

static int get_u32(int fd, uint32_t *v)
{
	return read_all(fd, v, sizeof(*v));
}

static sb_client *child_connect(void)
{
	sb_client *c;
	int r = sb_connect(sock_path, &c);

	if (r < 0)
		child_die("connect", r);
	return c;
}

/* ---- the daemon ---------------------------------------------------------- */

static long daemon_rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)daemon_pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Start shmbufd with its default limits on our socket; ready when it sends READY=1 to our
 * NOTIFY_SOCKET (or, built without libsystemd, once its socket accepts a connection). */
static void start_daemon(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint64_t t0 = now_ns();

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", notify_path);
	if (nfd < 0 || bind(nfd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("notify socket: %s", strerror(errno));
	daemon_pid = bench_fork();
	if (daemon_pid < 0)
		die("fork: %s", strerror(errno));
	if (daemon_pid == 0) {
		setenv("NOTIFY_SOCKET", notify_path, 1);
		execl(daemon_path, daemon_path, "--socket", sock_path, "--log-level", "warning", (char *)NULL);
		fprintf(stderr, "shmbuf_bench: exec %s: %s\n", daemon_path, strerror(errno));
		_exit(127);
	}
	for (;;) {
		struct pollfd p = { .fd = nfd, .events = POLLIN };
		char msg[512];
		ssize_t n;

		if (waitpid(daemon_pid, NULL, WNOHANG) == daemon_pid) {
			daemon_pid = -1;
			die("%s exited before it was ready", daemon_path);
		}
		if (now_ns() - t0 > 10000000000ull)
			die("%s not ready after 10 s", daemon_path);
		if (poll(&p, 1, 50) == 1 && (n = recv(nfd, msg, sizeof(msg) - 1, 0)) > 0) {
			msg[n] = 0;
			if (strncmp(msg, "READY=1", 7) == 0 || strstr(msg, "\nREADY=1"))
				break;
			continue;
		}
		/* no READY within 50 ms: a daemon without sd_notify is ready once its socket answers */
		if (access(sock_path, F_OK) == 0 && sb_connect(sock_path, &cl) == 0)
			break;
	}
	close(nfd);
	if (!cl) {
		int r = sb_connect(sock_path, &cl);

		if (r < 0)
			die("connect to %s: %s", sock_path, sb_strerror(r));
	}
}

/* ---- reference servers --------------------------------------------------- */

/* A bare SOCK_SEQPACKET echo child on a socketpair: the floor for any request/reply. */
static void start_echo(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair: %s", strerror(errno));
	echo_pid = bench_fork();
	if (echo_pid < 0)
		die("fork: %s", strerror(errno));
	if (echo_pid == 0) {
		char buf[ECHO_MSG];
		ssize_t n;

		close(sv[0]);
		while ((n = read(sv[1], buf, sizeof(buf))) > 0)
			if (write(sv[1], buf, (size_t)n) != n)
				break;
		_exit(0);
	}
	close(sv[1]);
	echo_fd = sv[0];
}

static void echo_round_trip(int fd)
{
	char buf[ECHO_MSG] = { 1 };

	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		die("echo round trip: %s", strerror(errno));
}

/* Mean seconds per bare round trip over one batch. */
static double echo_batch(const struct batch *b)
{
	uint64_t t0;
	int n = 0;

	for (int i = 0; i < 20; i++)
		echo_round_trip(echo_fd);
	t0 = now_ns();
	while (batch_more(b, n, t0)) {
		echo_round_trip(echo_fd);
		n++;
	}
	return (double)(now_ns() - t0) / 1e9 / n;
}

/* Per-round-trip samples, in seconds, of one batch. */
static int echo_samples(const struct batch *b, double *out)
{
	uint64_t t0 = now_ns();
	int n = 0;

	while (n < MAXSAMPLES && batch_more(b, n, t0)) {
		uint64_t s = now_ns();

		echo_round_trip(echo_fd);
		out[n++] = (double)(now_ns() - s) / 1e9;
	}
	return n;
}

static void start_uv_echo(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", echo_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0)
		die("uv echo socket: %s", strerror(errno));
	uvecho_pid = bench_fork();
	if (uvecho_pid < 0)
		die("fork: %s", strerror(errno));
	if (uvecho_pid == 0) {
		int r = uv_echo_serve(fd);

		fprintf(stderr, "shmbuf_bench: uv echo server ended: %d\n", r);
		_exit(1);
	}
	close(fd);
}

/* ---- the table ----------------------------------------------------------- */

struct row {
	char id[8];
	char what[96];
	char figure[96];
	char reference[96];
	double ratio; /* < 0: none */
	char target[32];
	int met; /* 1 met, 0 not met, -1 no verdict (skipped, failed) */
	char note[160];
};

static struct row rows[32];
static int nrows;

static struct row *add_row(const char *id, const char *what)
{
	struct row *r = &rows[nrows++];

	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->what, sizeof(r->what), "%s", what);
	r->ratio = -1;
	r->met = -1;
	return r;
}

static void fmt_time(char *buf, size_t len, double s)
{
	if (s < 0)
		snprintf(buf, len, "-");
	else if (s < 1e-3)
		snprintf(buf, len, "%.1f µs", s * 1e6);
	else if (s < 1)
		snprintf(buf, len, "%.2f ms", s * 1e3);
	else
		snprintf(buf, len, "%.2f s", s);
}

/* ratio <= limit (or >= limit when at_least) */
static void verdict(struct row *r, double ratio, double limit, int at_least, const char *target)
{
	r->ratio = ratio;
	snprintf(r->target, sizeof(r->target), "%s", target);
	r->met = ratio < 0 ? -1 : at_least ? ratio >= limit : ratio <= limit;
}

static void print_table(void)
{
	printf("\n| row | what | shmbuf | reference (same run) | ratio | target | met |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		char ratio[32];

		if (r->ratio < 0)
			snprintf(ratio, sizeof(ratio), "-");
		else
			snprintf(ratio, sizeof(ratio), "%.2fx", r->ratio);
		printf("| %s | %s | %s | %s | %s | %s | %s |\n", r->id, r->what, r->figure[0] ? r->figure : "-",
		       r->reference[0] ? r->reference : "-", ratio, r->target[0] ? r->target : "-",
		       r->met == 1 ? "met" : r->met == 0 ? "**not met**" : r->note[0] ? r->note : "-");
	}
	printf("\nMedians of %d repetitions. Ratio: shmbuf / reference, except row 4 (shmbuf's ops/s / the\n"
	       "echo server's) and row 6 (reference / shmbuf: how many times cheaper shmbuf is).\n",
	       reps);
	fflush(stdout);
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "  ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/* ---- row 1: frame pipeline ----------------------------------------------- */

/* A fills every byte with a value that depends on the round; B sums every byte as 64-bit
 * words (so nothing is optimised away) and checks the sum against what A wrote. */
static unsigned char round_byte(uint32_t round)
{
	return (unsigned char)(round * 157u + 1u);
}

static void fill(void *p, size_t n, uint32_t round)
{
	memset(p, round_byte(round), n);
	__asm__ volatile("" ::"r"(p) : "memory");
}

static uint64_t checksum(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t s = 0, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, c + i, 8);
		s += w;
	}
	for (; i < n; i++)
		s += c[i];
	return s;
}

static int content_ok(const void *p, size_t n, uint32_t round)
{
	uint64_t b = round_byte(round);

	return checksum(p, n) == (uint64_t)(n / 8) * (b * 0x0101010101010101ull) + (uint64_t)(n % 8) * b;
}

enum pipe_kind { PIPE_SHMBUF, PIPE_SOCKET, PIPE_ONEPROC };

/* B for the shmbuf pipeline: takes its turn on the token, acquires READ, checks, releases. */
static void pipe_b_shmbuf(int tok, const char *name, size_t size)
{
	sb_client *c = child_connect();
	uint32_t r;
	sb_view v;
	int e;

	while (get_u32(tok, &r) == 0 && r != STOP_TOKEN) {
		uint32_t ok;

		if ((e = sb_acquire(c, name, 0, size, 0, -1, &v)) < 0)
			child_die("acquire READ", e);
		ok = v.len == size && content_ok(v.data, size, r);
		if ((e = sb_release(c, &v)) < 0)
			child_die("release", e);
		if (write_all(tok, &ok, sizeof(ok)) < 0)
			break;
	}
	sb_disconnect(c);
	_exit(0);
}

/* B for the socket copy: reads the frame into its own buffer, checks, replies. */
static void pipe_b_socket(int s, size_t size)
{
	unsigned char *buf = malloc(size);

	if (!buf)
		child_die("malloc", ENOMEM);
	for (uint32_t r = 0;; r++) {
		uint32_t ok;

		if (read_all(s, buf, size) < 0)
			break;
		ok = content_ok(buf, size, r);
		if (write_all(s, &ok, sizeof(ok)) < 0)
			break;
	}
	free(buf);
	_exit(0);
}

/* Mean seconds per round of one batch (warm-up rounds excluded); -1 on failure. */
static double pipeline_batch(enum pipe_kind kind, const char *name, size_t size, const struct batch *b)
{
	const int warm = size >= 64 * MiB ? 1 : 3;
	unsigned char *buf = NULL;
	int sv[2] = { -1, -1 };
	pid_t pid = -1;
	uint64_t t0 = 0;
	int n = 0, bad = 0;

	if (kind != PIPE_ONEPROC) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			die("socketpair: %s", strerror(errno));
		pid = bench_fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			close(sv[0]);
			if (kind == PIPE_SHMBUF)
				pipe_b_shmbuf(sv[1], name, size);
			pipe_b_socket(sv[1], size);
		}
		close(sv[1]);
	}
	if (kind != PIPE_SHMBUF && !(buf = malloc(size)))
		die("malloc: out of memory");
	for (uint32_t r = 0; !bad; r++) {
		uint32_t ok = 1;

		if ((int)r == warm)
			t0 = now_ns();
		if ((int)r >= warm && !batch_more(b, n, t0))
			break;
		if (kind == PIPE_SHMBUF) {
			sb_view v;
			int e = sb_acquire(cl, name, 0, size, 1, -1, &v);

			if (e < 0)
				die("acquire WRITE %s: %s", name, sb_strerror(e));
			fill(v.data, size, r);
			if ((e = sb_release(cl, &v)) < 0)
				die("release: %s", sb_strerror(e));
			put_u32(sv[0], r);
			if (get_u32(sv[0], &ok) < 0)
				die("pipeline B died");
		} else if (kind == PIPE_SOCKET) {
			fill(buf, size, r);
			if (write_all(sv[0], buf, size) < 0 || get_u32(sv[0], &ok) < 0)
				die("socket copy B died");
		} else {
			fill(buf, size, r);
			ok = content_ok(buf, size, r);
		}
		if (!ok)
			bad = 1;
		if ((int)r >= warm)
			n++;
	}
	double t = (double)(now_ns() - t0) / 1e9 / (n ? n : 1);
	if (kind == PIPE_SHMBUF)
		put_u32(sv[0], STOP_TOKEN);
	if (sv[0] >= 0)
		close(sv[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	free(buf);
	if (bad) {
		fprintf(stderr, "shmbuf_bench: pipeline: B saw bytes A did not write\n");
		return -1;
	}
	return t;
}

static void row_pipeline(void)
{
	static const size_t sizes[] = { 4 * KiB, 1 * MiB, 64 * MiB };
	static const char *labels[] = { "4 KiB", "1 MiB", "64 MiB" };

	for (int s = 0; s < 3; s++) {
		size_t size = sizes[s];
		struct batch b = { size >= 64 * MiB ? 3 : 10, 100000, size >= 64 * MiB ? 0.5 : 0.25 };
		double t_sb[MAXREPS], t_sock[MAXREPS], t_one[MAXREPS];
		char name[32], what[96], f1[32], f2[32], f3[32];
		struct row *row;
		int e, failed = 0;

		snprintf(what, sizeof(what), "frame pipeline %s, per round", labels[s]);
		row = add_row(s == 0 ? "1a" : s == 1 ? "1b" : "1c", what);
		snprintf(name, sizeof(name), "bench.frame.%d", s);
		if ((e = sb_create(cl, name, size)) < 0)
			die("create %s: %s", name, sb_strerror(e));
		for (int i = 0; i < reps && !failed; i++) {
			t_sb[i] = pipeline_batch(PIPE_SHMBUF, name, size, &b);
			t_sock[i] = pipeline_batch(PIPE_SOCKET, name, size, &b);
			t_one[i] = pipeline_batch(PIPE_ONEPROC, name, size, &b);
			failed = t_sb[i] < 0 || t_sock[i] < 0 || t_one[i] < 0;
		}
		sb_destroy(cl, name);
		if (failed) {
			snprintf(row->note, sizeof(row->note), "FAILED: content check");
			continue;
		}
		double sb = median(t_sb, reps), sock = median(t_sock, reps), one = median(t_one, reps);
		fmt_time(f1, sizeof(f1), sb);
		fmt_time(f2, sizeof(f2), sock);
		fmt_time(f3, sizeof(f3), one);
		snprintf(row->figure, sizeof(row->figure), "%s", f1);
		if (s == 2) {
			snprintf(row->reference, sizeof(row->reference), "one process %s (socket copy %s)", f3, f2);
			verdict(row, sb / one, 1.05, 0, "≤ 1.05x one process");
		} else {
			snprintf(row->reference, sizeof(row->reference), "socket copy %s (one process %s)", f2, f3);
			verdict(row, sb / sock, s == 0 ? 1.5 : 0.5, 0, s == 0 ? "≤ 1.5x socket copy" : "≤ 0.5x socket copy");
		}
		progress("%s: shmbuf %s, socket copy %s, one process %s", what, f1, f2, f3);
	}
}

/* ---- row 2: acquire + release of a 4 KiB read lease ---------------------- */

static double acqrel_batch(sb_client *c, const char *name, const struct batch *b)
{
	uint64_t t0 = now_ns();
	int n = 0;

	while (batch_more(b, n, t0)) {
		sb_view v;
		int e = sb_acquire(c, name, 0, 4 * KiB, 0, 0, &v);

		if (e < 0)
			die("acquire READ %s: %s", name, sb_strerror(e));
		if ((e = sb_release(c, &v)) < 0)
			die("release: %s", sb_strerror(e));
		n++;
	}
	return (double)(now_ns() - t0) / 1e9 / n;
}

static void row_acquire(void)
{
	struct batch b = { 100, 200000, 0.3 };
	struct batch warm = { 50, 50, 0 };
	double t_sb[MAXREPS], t_rt[MAXREPS];
	char f1[32], f2[32];
	struct row *row = add_row("2", "acquire + release, 4 KiB read lease, segment already used");
	int e;

	if ((e = sb_create(cl, "bench.acq", 64 * KiB)) < 0)
		die("create bench.acq: %s", sb_strerror(e));
	acqrel_batch(cl, "bench.acq", &warm);
	for (int i = 0; i < reps; i++) {
		t_sb[i] = acqrel_batch(cl, "bench.acq", &b);
		t_rt[i] = echo_batch(&b);
	}
	sb_destroy(cl, "bench.acq");
	double sb = median(t_sb, reps), rt = median(t_rt, reps);
	fmt_time(f1, sizeof(f1), sb);
	fmt_time(f2, sizeof(f2), rt);
	snprintf(row->figure, sizeof(row->figure), "%s", f1);
	snprintf(row->reference, sizeof(row->reference), "bare SEQPACKET round trip %s", f2);
	verdict(row, sb / rt, 1.3, 0, "≤ 1.3x");
	progress("acquire+release %s, bare round trip %s", f1, f2);
}

/* ---- row 3: one-way hand-off ----------------------------------------------- */

/* The reader: on each go token, waits in acquire(READ); when it returns, sends the
 * CLOCK_MONOTONIC time back on the pipe, releases, and waits for the next token. */
static void handoff_reader(int go, int back, const char *name, size_t size)
{
	sb_client *c = child_connect();
	uint32_t tok;
	int e;

	while (get_u32(go, &tok) == 0 && tok != STOP_TOKEN) {
		sb_view v;
		uint64_t t1;

		if ((e = sb_acquire(c, name, 0, size, 0, -1, &v)) < 0)
			child_die("acquire READ", e);
		t1 = now_ns();
		if ((e = sb_release(c, &v)) < 0)
			child_die("release", e);
		if (write_all(back, &t1, sizeof(t1)) < 0)
			break;
	}
	sb_disconnect(c);
	_exit(0);
}

/* One batch of one-way samples (seconds) from the writer's release to the reader's grant. */
static int handoff_batch(const char *name, size_t size, const struct batch *b, double *out)
{
	int go[2], back[2], n = 0, e, r;
	sb_view w;
	pid_t pid;
	uint64_t t0;

	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(back, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	if ((e = sb_acquire(cl, name, 0, size, 1, -1, &w)) < 0)
		die("acquire WRITE %s: %s", name, sb_strerror(e));
	pid = bench_fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(go[1]);
		close(back[0]);
		handoff_reader(go[0], back[1], name, size);
	}
	close(go[0]);
	close(back[1]);
	t0 = now_ns();
	for (int i = -3; i < MAXSAMPLES && (i < 0 || batch_more(b, n, t0)); i++) {
		uint64_t ts, t1;
		int tries;

		put_u32(go[1], 1);
		/* wait (bounded: 100000 polls) until the reader's acquire is queued on the daemon */
		for (tries = 0; tries < 100000 && (r = sb_waiters(cl, name)) == 0; tries++)
			;
		if (r < 0 || tries == 100000)
			die("hand-off: reader never waited (%s)", r < 0 ? sb_strerror(r) : "timeout");
		ts = now_ns();
		if ((e = sb_release(cl, &w)) < 0)
			die("release: %s", sb_strerror(e));
		if (read_all(back[0], &t1, sizeof(t1)) < 0)
			die("hand-off reader died");
		if (i >= 0)
			out[n++] = (double)(t1 - ts) / 1e9;
		if ((e = sb_acquire(cl, name, 0, size, 1, -1, &w)) < 0)
			die("acquire WRITE %s: %s", name, sb_strerror(e));
	}
	put_u32(go[1], STOP_TOKEN);
	close(go[1]);
	close(back[0]);
	waitpid(pid, NULL, 0);
	sb_release(cl, &w);
	return n;
}

static void row_handoff(void)
{
	static double samples[MAXSAMPLES];
	static const size_t sizes[] = { 64, 64 * MiB };
	struct batch b = { 20, 2000, 0.4 };
	double rt50[MAXREPS], rt99[MAXREPS], p50[2][MAXREPS], p99[2][MAXREPS];
	char f1[32], f2[32], f3[32], f4[32], name[2][32];
	struct row *row[2];
	int e;

	row[0] = add_row("3a", "one-way hand-off 64 B, p50 (p99)");
	row[1] = add_row("3b", "one-way hand-off 64 MiB, p50 (p99)");
	for (int s = 0; s < 2; s++) {
		snprintf(name[s], sizeof(name[s]), "bench.handoff.%d", s);
		if ((e = sb_create(cl, name[s], sizes[s])) < 0)
			die("create %s: %s", name[s], sb_strerror(e));
	}
	/* interleaved: each repetition measures the reference and both sizes */
	for (int i = 0; i < reps; i++) {
		int n = echo_samples(&b, samples);

		rt50[i] = quantile(samples, n, 0.5);
		rt99[i] = quantile(samples, n, 0.99);
		for (int s = 0; s < 2; s++) {
			n = handoff_batch(name[s], sizes[s], &b, samples);
			p50[s][i] = quantile(samples, n, 0.5);
			p99[s][i] = quantile(samples, n, 0.99);
		}
	}
	double rt = median(rt50, reps), rtp99 = median(rt99, reps);
	fmt_time(f3, sizeof(f3), rt);
	fmt_time(f4, sizeof(f4), rtp99);
	for (int s = 0; s < 2; s++) {
		sb_destroy(cl, name[s]);
		double h50 = median(p50[s], reps), h99 = median(p99[s], reps);
		fmt_time(f1, sizeof(f1), h50);
		fmt_time(f2, sizeof(f2), h99);
		snprintf(row[s]->figure, sizeof(row[s]->figure), "%s (%s)", f1, f2);
		snprintf(row[s]->reference, sizeof(row[s]->reference), "bare SEQPACKET round trip %s (%s)", f3, f4);
		verdict(row[s], h50 / rt, 1.0, 0, "p50 ≤ 1.0x");
		progress("hand-off %s: p50 %s p99 %s; round trip p50 %s p99 %s", s ? "64 MiB" : "64 B", f1, f2, f3,
			 f4);
	}
}

/* ---- row 4: throughput with 4 client processes ---------------------------- */

#define TP_CLIENTS 4

struct tp_result {
	uint64_t ops, start, end;
	int32_t err;
};

/* One client process: connect, warm up, report ready, wait for the start (EOF on the start
 * pipe), then run request/reply until the time is up. */
static void tp_client(int shmbuf, int ready, int start, int res, double seconds)
{
	struct tp_result out = { 0 };
	sb_client *c = NULL;
	int fd = -1;
	char buf[ECHO_MSG] = { 1 }, x;
	const uint64_t max_ops = 50000000;

	if (shmbuf) {
		c = child_connect();
	} else {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", echo_path);
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			child_die("connect to the uv echo server", errno);
	}
	for (uint64_t i = 0;; i++) {
		int e = 0;

		if (i == 10) { /* warmed up: wait for everyone */
			if (write_all(ready, &x, 1) < 0 || read(start, &x, 1) != 0)
				_exit(1);
			out.start = now_ns();
		}
		if (i >= 10 && (out.ops >= max_ops || (out.ops % 64 == 0 && now_ns() - out.start >= seconds * 1e9)))
			break;
		if (shmbuf) {
			sb_view v;

			if ((e = sb_acquire(c, "bench.tp", 0, 4 * KiB, 0, 0, &v)) == 0)
				e = sb_release(c, &v);
		} else if (send(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
			   recv(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) {
			e = -errno;
		}
		if (e < 0) {
			out.err = e;
			break;
		}
		if (i >= 10)
			out.ops++;
	}
	out.end = now_ns();
	if (c)
		sb_disconnect(c);
	write_all(res, &out, sizeof(out));
	_exit(0);
}

/* ops/s of TP_CLIENTS processes over one window; -1 on failure. */
static double tp_batch(int shmbuf, double seconds)
{
	int ready[2], start[2], res[2];
	pid_t pids[TP_CLIENTS];
	uint64_t ops = 0, t0 = UINT64_MAX, t1 = 0;
	int failed = 0;
	char x;

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(start, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	for (int i = 0; i < TP_CLIENTS; i++) {
		pids[i] = bench_fork();
		if (pids[i] < 0)
			die("fork: %s", strerror(errno));
		if (pids[i] == 0) {
			close(ready[0]);
			close(start[1]);
			close(res[0]);
			tp_client(shmbuf, ready[1], start[0], res[1], seconds);
		}
	}
	close(ready[1]);
	close(start[0]);
	close(res[1]);
	for (int i = 0; i < TP_CLIENTS; i++)
		if (read(ready[0], &x, 1) != 1)
			failed = 1;
	close(start[1]); /* go */
	for (int i = 0; i < TP_CLIENTS; i++) {
		struct tp_result r;

		if (read_all(res[0], &r, sizeof(r)) < 0 || r.err) {
			if (!failed)
				fprintf(stderr, "shmbuf_bench: throughput client failed: %s\n",
					r.err ? sb_strerror(r.err) : "died");
			failed = 1;
			continue;
		}
		ops += r.ops;
		t0 = r.start < t0 ? r.start : t0;
		t1 = r.end > t1 ? r.end : t1;
	}
	for (int i = 0; i < TP_CLIENTS; i++)
		waitpid(pids[i], NULL, 0);
	close(ready[0]);
	close(res[0]);
	return failed || t1 <= t0 ? -1 : (double)ops / ((double)(t1 - t0) / 1e9);
}

static void row_throughput(void)
{
	double t_sb[MAXREPS], t_uv[MAXREPS];
	struct row *row = add_row("4", "acquire + release throughput, 4 client processes");
	int e, failed = 0;

	if ((e = sb_create(cl, "bench.tp", 64 * KiB)) < 0)
		die("create bench.tp: %s", sb_strerror(e));
	for (int i = 0; i < reps && !failed; i++) {
		t_sb[i] = tp_batch(1, 0.5 * scale);
		t_uv[i] = tp_batch(0, 0.5 * scale);
		failed = t_sb[i] < 0 || t_uv[i] < 0;
	}
	sb_destroy(cl, "bench.tp");
	if (failed) {
		snprintf(row->note, sizeof(row->note), "FAILED");
		return;
	}
	double sb = median(t_sb, reps), uv = median(t_uv, reps);
	snprintf(row->figure, sizeof(row->figure), "%.0fk ops/s", sb / 1e3);
	snprintf(row->reference, sizeof(row->reference), "libuv SEQPACKET echo server %.0fk req/s", uv / 1e3);
	verdict(row, sb / uv, 0.7, 1, "≥ 0.70x");
	progress("throughput: shmbuf %.0f ops/s, uv echo %.0f req/s", sb, uv);
}

/* ---- row 5: daemon memory per lease, acquire at many leases ---------------- */

/* Leases are spread so that the daemon's default limits hold (4096 leases per client, 1024
 * per segment): HOLD_PROCS processes x HOLD_CONNS clients, over MANY_SEGS segments. */
#define HOLD_PROCS 5
#define HOLD_CONNS 5
#define MANY_SEGS 100
#define MANY_SEG_SIZE (64 * KiB)

/* A holder process: on command, its HOLD_CONNS clients acquire their share of read leases
 * (64 B each, spread over the segments) and keep them until the command pipe closes. */
static void holder(int cmd, int done, int proc, int per_proc)
{
	sb_client *c[HOLD_CONNS];
	int32_t status = 0;
	uint32_t x;

	for (int i = 0; i < HOLD_CONNS; i++)
		c[i] = child_connect();
	if (get_u32(cmd, &x) == 0) {
		for (int k = 0; k < per_proc && status == 0; k++) {
			int g = proc * per_proc + k;
			char name[32];
			sb_view v;

			snprintf(name, sizeof(name), "bench.many.%d", g % MANY_SEGS);
			status = sb_acquire(c[k % HOLD_CONNS], name, (uint64_t)(g / MANY_SEGS * 64) % (MANY_SEG_SIZE - 64),
					    64, 0, 0, &v);
		}
		write_all(done, &status, sizeof(status));
		get_u32(cmd, &x); /* EOF: let go */
	}
	for (int i = 0; i < HOLD_CONNS; i++)
		sb_disconnect(c[i]);
	_exit(0);
}

static void row_memory(void)
{
	const int total = quick ? 20000 : 100000, per_proc = total / HOLD_PROCS;
	struct batch b = { 100, 200000, 0.3 };
	struct batch warm = { 50, 50, 0 };
	double t10[MAXREPS], tmany[MAXREPS];
	struct row *mem = add_row("5a", ""), *acq = add_row("5b", "");
	int cmd[2], done[2], failed = 0, e;
	pid_t pids[HOLD_PROCS];
	sb_view few[10];
	long rss0, rss1;
	char f1[32], f2[32];

	snprintf(mem->what, sizeof(mem->what), "daemon memory per lease, %dk leases held", total / 1000);
	snprintf(acq->what, sizeof(acq->what), "acquire + release 4 KiB read lease at %dk leases", total / 1000);
	for (int s = 0; s < MANY_SEGS; s++) {
		char name[32];

		snprintf(name, sizeof(name), "bench.many.%d", s);
		if ((e = sb_create(cl, name, MANY_SEG_SIZE)) < 0)
			die("create %s: %s", name, sb_strerror(e));
	}
	if (pipe2(cmd, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	for (int p = 0; p < HOLD_PROCS; p++) {
		pids[p] = bench_fork();
		if (pids[p] < 0)
			die("fork: %s", strerror(errno));
		if (pids[p] == 0) {
			close(cmd[1]);
			close(done[0]);
			holder(cmd[0], done[1], p, per_proc);
		}
	}
	close(cmd[0]);
	close(done[1]);
	/* 10 leases held (ours), spread like the many */
	for (int i = 0; i < 10; i++) {
		char name[32];

		snprintf(name, sizeof(name), "bench.many.%d", i * 10);
		if ((e = sb_acquire(cl, name, 4 * KiB, 64, 0, 0, &few[i])) < 0)
			die("acquire %s: %s", name, sb_strerror(e));
	}
	acqrel_batch(cl, "bench.many.0", &warm);
	for (int i = 0; i < reps; i++)
		t10[i] = acqrel_batch(cl, "bench.many.0", &b);
	rss0 = daemon_rss_kib();
	for (int p = 0; p < HOLD_PROCS; p++)
		put_u32(cmd[1], 1);
	for (int p = 0; p < HOLD_PROCS; p++) {
		int32_t st;

		if (read_all(done[0], &st, sizeof(st)) < 0 || st < 0) {
			fprintf(stderr, "shmbuf_bench: lease holder failed: %s\n", st < 0 ? sb_strerror(st) : "died");
			failed = 1;
		}
	}
	rss1 = daemon_rss_kib();
	if (!failed) {
		acqrel_batch(cl, "bench.many.0", &warm);
		for (int i = 0; i < reps; i++)
			tmany[i] = acqrel_batch(cl, "bench.many.0", &b);
	}
	close(cmd[1]); /* holders let go */
	for (int p = 0; p < HOLD_PROCS; p++)
		waitpid(pids[p], NULL, 0);
	close(done[0]);
	for (int i = 0; i < 10; i++)
		sb_release(cl, &few[i]);
	for (int s = 0; s < MANY_SEGS; s++) {
		char name[32];

		snprintf(name, sizeof(name), "bench.many.%d", s);
		sb_destroy(cl, name);
	}
	if (failed || rss0 < 0 || rss1 < 0) {
		snprintf(mem->note, sizeof(mem->note), "FAILED");
		snprintf(acq->note, sizeof(acq->note), "FAILED");
		return;
	}
	double per = (double)(rss1 - rss0) * 1024.0 / total;
	snprintf(mem->figure, sizeof(mem->figure), "%.0f B/lease", per);
	snprintf(mem->reference, sizeof(mem->reference), "daemon VmRSS %ld → %ld KiB", rss0, rss1);
	snprintf(mem->target, sizeof(mem->target), "≤ 256 B/lease");
	mem->met = per <= 256;
	double a = median(t10, reps), m = median(tmany, reps);
	fmt_time(f1, sizeof(f1), m);
	fmt_time(f2, sizeof(f2), a);
	snprintf(acq->figure, sizeof(acq->figure), "%s", f1);
	snprintf(acq->reference, sizeof(acq->reference), "at 10 leases %s", f2);
	verdict(acq, m / a, 1.2, 0, "≤ 1.2x");
	progress("memory: %.0f B/lease (VmRSS %ld -> %ld KiB); acquire+release at %d leases %s, at 10 %s", per,
		 rss0, rss1, total, f1, f2);
}

/* ---- row 6: create + destroy ----------------------------------------------- */

/* The reference: Debian's Python, a SharedMemoryManager, blocks of 1 MiB created and
 * destroyed as its documentation shows (smm.SharedMemory(size), close(), unlink()), timed in
 * Python. It runs as a coprocess: one batch per "go" line, so that its batches alternate
 * with ours and both see the same machine. */
static const char smm_script[] =
	"import sys, time\n"
	"from multiprocessing.managers import SharedMemoryManager\n"
	"budget, size = float(sys.argv[1]), 1 << 20\n"
	"with SharedMemoryManager() as smm:\n"
	"    for _ in range(20):\n"
	"        b = smm.SharedMemory(size); b.close(); b.unlink()\n"
	"    print('ready', flush=True)\n"
	"    for line in sys.stdin:\n"
	"        n, t0 = 0, time.perf_counter()\n"
	"        while n < 10 or (n < 100000 and time.perf_counter() - t0 < budget):\n"
	"            b = smm.SharedMemory(size)\n"
	"            b.close()\n"
	"            b.unlink()\n"
	"            n += 1\n"
	"        print((time.perf_counter() - t0) / n, flush=True)\n";

struct coproc {
	pid_t pid;
	FILE *in, *out; /* we write to in, read from out */
};

static int python_start(struct coproc *py, double budget)
{
	char script[160], arg[32], line[64];
	int to[2], from[2], fd;

	snprintf(script, sizeof(script), "%s/smm.py", dir);
	fd = open(script, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, smm_script, strlen(smm_script)) < 0)
		die("write %s: %s", script, strerror(errno));
	close(fd);
	snprintf(arg, sizeof(arg), "%.3f", budget);
	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	py->pid = bench_fork();
	if (py->pid < 0)
		die("fork: %s", strerror(errno));
	if (py->pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		/* -I: isolated, so no PYTHONPATH/PYTHONHOME or user site from a pyenv shell */
		execl(python_path, python_path, "-I", script, arg, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	py->in = fdopen(to[1], "w");
	py->out = fdopen(from[0], "r");
	if (!py->in || !py->out || !fgets(line, sizeof(line), py->out) || strncmp(line, "ready", 5) != 0)
		return -1;
	return 0;
}

/* Seconds per create+destroy of one Python batch, or -1. */
static double python_batch(struct coproc *py)
{
	char line[64];

	if (fputs("go\n", py->in) == EOF || fflush(py->in) == EOF || !fgets(line, sizeof(line), py->out))
		return -1;
	return atof(line);
}

static void python_stop(struct coproc *py)
{
	char script[160];

	if (py->in)
		fclose(py->in); /* EOF: the script leaves its loop and shuts the manager down */
	if (py->out)
		fclose(py->out);
	if (py->pid > 0)
		waitpid(py->pid, NULL, 0);
	snprintf(script, sizeof(script), "%s/smm.py", dir);
	unlink(script);
}

static void row_create(void)
{
	struct batch b = { 10, 100000, 0.3 };
	double t_sb[MAXREPS], t_py[MAXREPS];
	struct row *row = add_row("6", "create + destroy of a 1 MiB segment");
	struct coproc py = { .pid = -1 };
	int have_py = access(python_path, X_OK) == 0, py_failed = 0;
	char f1[32], f2[32];

	if (have_py && python_start(&py, b.budget_s * scale) < 0)
		py_failed = 1;
	for (int i = 0; i < reps; i++) {
		uint64_t t0 = now_ns();
		int n = 0, e;

		while (batch_more(&b, n, t0)) {
			if ((e = sb_create(cl, "bench.cd", 1 * MiB)) < 0 || (e = sb_destroy(cl, "bench.cd")) < 0)
				die("create/destroy bench.cd: %s", sb_strerror(e));
			n++;
		}
		t_sb[i] = (double)(now_ns() - t0) / 1e9 / n;
		if (have_py && !py_failed && (t_py[i] = python_batch(&py)) <= 0)
			py_failed = 1;
	}
	if (have_py)
		python_stop(&py);
	double sb = median(t_sb, reps);
	fmt_time(f1, sizeof(f1), sb);
	snprintf(row->figure, sizeof(row->figure), "%s", f1);
	if (!have_py) {
		snprintf(row->reference, sizeof(row->reference), "(skipped: no %s)", python_path);
		snprintf(row->note, sizeof(row->note), "skipped");
		progress("create+destroy %s; %s absent, reference skipped", f1, python_path);
		return;
	}
	if (py_failed) {
		snprintf(row->reference, sizeof(row->reference), "(Python SharedMemoryManager run failed)");
		snprintf(row->note, sizeof(row->note), "FAILED");
		return;
	}
	double ref = median(t_py, reps);
	fmt_time(f2, sizeof(f2), ref);
	snprintf(row->reference, sizeof(row->reference), "Python SharedMemoryManager block %s", f2);
	/* "4x cheaper": the reference costs at least 4 times ours; shown as reference / shmbuf */
	verdict(row, ref / sb, 4.0, 1, "≥ 4x cheaper");
	progress("create+destroy %s; Python SharedMemoryManager %s", f1, f2);
}

/* ---- row 7: producer/consumer frames with acquire_newer (issue 9) --------- */

/* The producer: its own process and connection; each frame is filled with the
 * byte of the generation it becomes. Runs until killed: no side channel. */
static void newer_producer(const char *name, size_t size)
{
	sb_client *c;
	sb_view v;

	if (sb_connect(sock_path, &c) < 0)
		_exit(1);
	for (;;) {
		if (sb_acquire(c, name, 0, size, 1, -1, &v) < 0)
			_exit(1);
		fill(v.data, size, (uint32_t)(v.generation + 1));
		if (sb_release(c, &v) < 0)
			_exit(1);
	}
}

/* Mean seconds per frame the consumer (this process) saw; -1 when a frame's
 * bytes were not its generation's. *skipped: frames the producer wrote that
 * the consumer never saw (it was not waiting when they ended). */
static double newer_batch(const char *name, size_t size, const struct batch *b, double *skipped)
{
	const int warm = size >= 64 * MiB ? 1 : 3;
	int64_t gen = sb_generation(cl, name);
	uint64_t t0 = 0, last = gen > 0 ? (uint64_t)gen : 0, first = 0;
	pid_t pid;
	int n = 0, bad = 0;

	/* A producer killed in an earlier batch ended its lease mid-frame: that
	 * generation is not a frame, so start after it. */
	if (gen < 0)
		die("stat %s: %s", name, sb_strerror((int)gen));
	pid = bench_fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		newer_producer(name, size);
	for (int r = 0; !bad; r++) {
		sb_view v;
		int e;

		if (r == warm) {
			t0 = now_ns();
			first = last;
		}
		if (r >= warm && !batch_more(b, n, t0))
			break;
		e = sb_acquire_newer(cl, name, 0, size, 0, last, 10000, &v);
		if (e < 0)
			die("acquire_newer %s: %s", name, sb_strerror(e));
		bad = v.generation <= last || !content_ok(v.data, size, (uint32_t)v.generation);
		last = v.generation;
		if ((e = sb_release(cl, &v)) < 0)
			die("release: %s", sb_strerror(e));
		if (r >= warm)
			n++;
	}
	double t = (double)(now_ns() - t0) / 1e9 / (n ? n : 1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	*skipped = n ? (double)(last - first - (uint64_t)n) / n : 0;
	if (bad) {
		fprintf(stderr, "shmbuf_bench: acquire_newer: a frame's bytes are not of its generation\n");
		return -1;
	}
	return t;
}

static void row_newer(void)
{
	static const size_t sizes[] = { 4 * KiB, 64 * MiB };
	static const char *labels[] = { "4 KiB", "64 MiB" };

	for (int s = 0; s < 2; s++) {
		size_t size = sizes[s];
		struct batch b = { size >= 64 * MiB ? 3 : 10, 100000, size >= 64 * MiB ? 0.5 : 0.25 };
		double t_sb[MAXREPS], t_ref[MAXREPS], skip[MAXREPS];
		char name[32], what[96], f1[32], f2[32];
		struct row *row;
		int e, failed = 0;

		snprintf(what, sizeof(what), "producer/consumer acquire_newer %s, per frame seen", labels[s]);
		row = add_row(s == 0 ? "7a" : "7b", what);
		snprintf(name, sizeof(name), "bench.newer.%d", s);
		if ((e = sb_create(cl, name, size)) < 0)
			die("create %s: %s", name, sb_strerror(e));
		for (int i = 0; i < reps && !failed; i++) {
			t_sb[i] = newer_batch(name, size, &b, &skip[i]);
			t_ref[i] = s == 0 ? echo_batch(&b) : pipeline_batch(PIPE_ONEPROC, name, size, &b);
			failed = t_sb[i] < 0 || t_ref[i] < 0;
		}
		sb_destroy(cl, name);
		if (failed) {
			snprintf(row->note, sizeof(row->note), "FAILED: content check");
			continue;
		}
		double sb = median(t_sb, reps), ref = median(t_ref, reps), sk = median(skip, reps);
		fmt_time(f1, sizeof(f1), sb);
		fmt_time(f2, sizeof(f2), ref);
		snprintf(row->figure, sizeof(row->figure), "%s (%.2f frames skipped per frame seen)", f1, sk);
		if (s == 0) {
			snprintf(row->reference, sizeof(row->reference), "bare SEQPACKET round trip %s", f2);
			verdict(row, sb / ref, 2.2, 0, "≤ 2.2x round trip");
		} else {
			snprintf(row->reference, sizeof(row->reference), "one process %s", f2);
			verdict(row, sb / ref, 1.05, 0, "≤ 1.05x one process");
		}
		progress("%s: shmbuf %s (skipped %.2f), reference %s", what, f1, sk, f2);
	}
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: shmbuf_bench [OPTION]...\n"
		"The benchmark of issue 8: starts its own shmbufd on a private socket, measures every\n"
		"figure with its reference in the same run, prints a Markdown table. Medians over\n"
		"repeated runs; every loop bounded in count and time. About 1-2 minutes.\n"
		"\n"
		"  --quick           short run (3 repetitions, a quarter of the time, 20k leases)\n"
		"  --deadline S      give up (stopping the daemon) after S seconds (default 300)\n"
		"  --only ROW        run one row: 1 (frame pipeline), 2 (acquire+release), 3 (hand-off),\n"
		"                    4 (throughput), 5 (memory per lease), 6 (create+destroy),\n"
		"                    7 (producer/consumer with acquire_newer)\n"
		"  --reps N          repetitions per figure (default 5, at most %d)\n"
		"  --daemon PATH     the shmbufd to run (default %s)\n"
		"  --python PATH     the Python for row 6's reference (default /usr/bin/python3)\n"
		"  -h, --help        show this help\n",
		MAXREPS, SHMBUFD_PATH);
}

static int want(const char *r)
{
	return !only || strcmp(only, r) == 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },	     { "only", required_argument, NULL, 'o' },
		{ "reps", required_argument, NULL, 'r' },    { "daemon", required_argument, NULL, 'd' },
		{ "python", required_argument, NULL, 'p' }, { "help", no_argument, NULL, 'h' },
		{ "deadline", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int o, user_reps = 0, deadline = 300;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'q':
			quick = 1;
			break;
		case 'o':
			only = optarg;
			break;
		case 'r':
			user_reps = atoi(optarg);
			break;
		case 'd':
			daemon_path = optarg;
			break;
		case 'p':
			python_path = optarg;
			break;
		case 't':
			deadline = atoi(optarg);
			if (deadline <= 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || (only && (strlen(only) != 1 || only[0] < '1' || only[0] > '7'))) {
		usage(stderr);
		return 2;
	}
	if (quick) {
		reps = 3;
		scale = 0.5;
	}
	if (user_reps) {
		if (user_reps < 1 || user_reps > MAXREPS) {
			usage(stderr);
			return 2;
		}
		reps = user_reps;
	}
	main_pid = getpid();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_abort);
	signal(SIGINT, on_abort);
	signal(SIGTERM, on_abort);
	alarm((unsigned)deadline);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(sock_path, sizeof(sock_path), "%s/shmbufd.sock", dir);
	snprintf(notify_path, sizeof(notify_path), "%s/notify.sock", dir);
	snprintf(echo_path, sizeof(echo_path), "%s/uvecho.sock", dir);
	start_daemon();
	start_echo();
	start_uv_echo();
	fprintf(stderr, "shmbuf_bench: shmbufd %s pid %d on %s; %d repetitions%s\n", daemon_path, (int)daemon_pid,
		sock_path, reps, quick ? " (quick)" : "");

	if (want("1"))
		row_pipeline();
	if (want("2"))
		row_acquire();
	if (want("3"))
		row_handoff();
	if (want("4"))
		row_throughput();
	if (want("5"))
		row_memory();
	if (want("6"))
		row_create();
	if (want("7"))
		row_newer();

	sb_disconnect(cl);
	cl = NULL;
	close(echo_fd);
	cleanup();
	print_table();
	return 0;
}
