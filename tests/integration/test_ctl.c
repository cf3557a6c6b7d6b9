/* SPDX-License-Identifier: MIT */
/* test_ctl.c: the shmbufctl binary against a real shmbufd: every command, its JSON output,
 * its exit statuses, and leases and events seen from other processes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "json.h"
#include "proc.h"

TestSuite(ctl, .init = daemon_setup, .fini = daemon_teardown, .timeout = 60);

#define RUN_TIMEOUT_MS 10000

Test(ctl, json_parser_accepts_json_and_nothing_else)
{
	static const char *const bad[] = { "", "{", "[1,]", "{\"a\" 1}", "\"\x01\"", "\"\xff\"", "01", "1 2",
					   "\"\\ud800\"", "{'a':1}", "[1] x", "nul" };
	struct jv *v = json_parse(" {\"a\": [1, -2.5e3, true, null, \"x\\u00e9\\ud83d\\ude00\\\"\"], \"b\": {}} ");

	cr_expect_str_eq(jv_array(v, "a")->items[4].s, "x\xc3\xa9\xf0\x9f\x98\x80\"");
	json_free(v);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect(!json_valid(bad[i]), "accepted invalid JSON: %s", bad[i]);
	expect_clean_shutdown();
}

/* ---- running shmbufctl ---- */

enum {
	CTL_NO_SOCKET = 1,  /* no --socket: the command line names the socket, or nothing does */
	CTL_ENV_SOCKET = 2, /* $SHMBUF_SOCKET names the daemon's socket */
};

#define MAX_ARGS 16

/* Collect the NULL-terminated arguments after first into args. */
#define COLLECT_ARGS(args, first)                                                                     \
	do {                                                                                          \
		va_list ap_;                                                                          \
		int n_ = 0;                                                                           \
                                                                                                      \
		va_start(ap_, first);                                                                 \
		for (const char *a_ = (first); a_; a_ = va_arg(ap_, const char *)) {                  \
			cr_assert_lt(n_, MAX_ARGS, "too many arguments");                             \
			(args)[n_++] = a_;                                                            \
		}                                                                                     \
		(args)[n_] = NULL;                                                                    \
		va_end(ap_);                                                                          \
	} while (0)

/* Start shmbufctl with args (NULL-terminated), fed input on stdin. */
static void ctl_startv(struct proc *p, const void *input, size_t input_len, unsigned flags,
		       const char *const *args)
{
	const char *argv[32], *env[] = { "SHMBUF_SOCKET", NULL };
	char env_socket[256];
	int n = 0;

	argv[n++] = SHMBUFCTL_PATH;
	if (!(flags & (CTL_NO_SOCKET | CTL_ENV_SOCKET))) {
		argv[n++] = "--socket";
		argv[n++] = daemon_socket();
	}
	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	if (flags & CTL_ENV_SOCKET) {
		snprintf(env_socket, sizeof(env_socket), "SHMBUF_SOCKET=%s", daemon_socket());
		env[0] = env_socket;
	}
	proc_spawn(p, argv, env, input, input_len);
}

static void ctl_start(struct proc *p, unsigned flags, const char *first, ...) __attribute__((sentinel));

static void ctl_start(struct proc *p, unsigned flags, const char *first, ...)
{
	const char *args[MAX_ARGS + 1];

	COLLECT_ARGS(args, first);
	ctl_startv(p, NULL, 0, flags, args);
}

/* Run shmbufctl to its end; p keeps its output for the caller (proc_free it). */
static int ctl_runv(struct proc *p, const void *input, size_t len, unsigned flags, const char *first, ...)
	__attribute__((sentinel));

static int ctl_runv(struct proc *p, const void *input, size_t len, unsigned flags, const char *first, ...)
{
	const char *args[MAX_ARGS + 1];

	COLLECT_ARGS(args, first);
	ctl_startv(p, input, len, flags, args);
	return proc_finish(p);
}

#define CTL(p, ...) ctl_runv(p, NULL, 0, 0, __VA_ARGS__, (const char *)NULL)
#define CTL_IN(p, in, len, ...) ctl_runv(p, in, len, 0, __VA_ARGS__, (const char *)NULL)

/* Run a command expected to succeed; returns its stdout (free it). */
static char *ctl_ok_(const char *first, ...) __attribute__((sentinel));

static char *ctl_ok_(const char *first, ...)
{
	const char *args[MAX_ARGS + 1];
	struct proc p;
	char *out;
	int code;

	COLLECT_ARGS(args, first);
	ctl_startv(&p, NULL, 0, 0, args);
	code = proc_finish(&p);
	cr_assert_eq(code, 0, "shmbufctl %s %s exited %d; stderr:\n%s", first, args[1] ? args[1] : "", code, p.e.p);
	out = p.o.p;
	p.o.p = NULL;
	proc_free(&p);
	return out;
}

#define ctl_ok(...) ctl_ok_(__VA_ARGS__, (const char *)NULL)

/* Run a JSON-printing command expected to succeed; returns the parsed document. */
#define CTL_JSON(...) ctl_json(ctl_ok(__VA_ARGS__))

static struct jv *ctl_json(char *out)
{
	struct jv *v = json_parse(out);

	free(out);
	return v;
}

/* Poll `clients --json` until the client with pid is subscribed to events. */
static void wait_subscribed(pid_t pid)
{
	int64_t end = now_ms() + 10000;

	for (;;) {
		struct jv *v = CTL_JSON("clients", "--json");
		const struct jv *list = jv_array(v, "clients");
		bool found = false;

		for (size_t i = 0; i < list->n; i++)
			if ((pid_t)jv_u64(&list->items[i], "pid") == pid && jv_bool(&list->items[i], "subscribed"))
				found = true;
		json_free(v);
		if (found)
			return;
		cr_assert_lt(now_ms(), end, "shmbufctl watch (pid %d) did not subscribe within 10 s", (int)pid);
		poll(NULL, 0, 10);
	}
}

/* ---- help, version and usage errors ---- */

Test(ctl, help_and_version_exit_0)
{
	static const char *const cmds[] = { "status", "list",    "ls",   "leases", "clients", "create",
					    "destroy", "resize", "read", "write",  "hold",    "watch" };
	struct proc p;
	char want[64];

	cr_assert_eq(CTL(&p, "--help"), 0);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		cr_expect(strstr(p.o.p, cmds[i]), "--help does not mention %s", cmds[i]);
	proc_free(&p);

	cr_assert_eq(CTL(&p, "--version"), 0);
	cr_expect(strstr(p.o.p, SHMBUF_VERSION_STRING), "--version printed: %s", p.o.p);
	proc_free(&p);

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		cr_expect_eq(CTL(&p, cmds[i], "--help"), 0, "%s --help failed: %s", cmds[i], p.e.p);
		snprintf(want, sizeof(want), "Usage: shmbufctl %s", strcmp(cmds[i], "ls") ? cmds[i] : "list");
		cr_expect(strstr(p.o.p, want), "%s --help printed:\n%s", cmds[i], p.o.p);
		proc_free(&p);
	}
	expect_clean_shutdown();
}

/* Expect exit status 2 and a "shmbufctl: " message on stderr. */
static void expect_usage_error(const char *const *argv)
{
	struct proc p;
	int code;

	ctl_startv(&p, NULL, 0, 0, argv);
	code = proc_finish(&p);

	cr_expect_eq(code, 2, "shmbufctl %s %s ... exited %d, expected 2 (usage); stderr:\n%s", argv[0],
		     argv[1] ? argv[1] : "", code, p.e.p);
	cr_expect(strncmp(p.e.p, "shmbufctl: ", 11) == 0, "usage error message: %s", p.e.p);
	cr_expect_eq(p.o.len, 0, "a usage error printed on stdout: %s", p.o.p);
	proc_free(&p);
}

Test(ctl, usage_errors_exit_2)
{
	static const char *const cases[][7] = {
		{ NULL },
		{ "frobnicate", NULL },
		{ "--bogus", "list", NULL },
		{ "list", "--bogus", NULL },
		{ "list", "extra", NULL },
		{ "status", "--mode", "0600", NULL },
		{ "create", "x", NULL },
		{ "create", "x", "12Q", NULL },
		{ "create", "x", "4K", "--mode", "999", NULL },
		{ "create", "x", "4K", "--mode", NULL },
		{ "resize", "x", "lots", NULL },
		{ "destroy", NULL },
		{ "read", "x", "--hex", "--raw", NULL },
		{ "read", "x", "--offset", "-1", NULL },
		{ "write", "x", "--fill", "256", NULL },
		{ "hold", "x", NULL },
		{ "hold", "x", "--read", "--write", NULL },
		{ "hold", "x", "--read", "--for", "soon", NULL },
		{ "hold", "x", "--read", "--wait", "-2", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_usage_error(cases[i]);
	expect_clean_shutdown();
}

/* ---- the daemon not reachable ---- */

Test(ctl, unreachable_daemon_exits_3_naming_the_socket)
{
	char path[108], stale[108];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct proc p;
	int fd;

	snprintf(path, sizeof(path), "/tmp/shmbufctl-test-none.%d/shmbufd.sock", (int)getpid());
	cr_assert_eq(ctl_runv(&p, NULL, 0, CTL_NO_SOCKET, "--socket", path, "list", (const char *)NULL), 3,
		     "stderr: %s", p.e.p);
	cr_expect(strstr(p.e.p, path), "the message does not name %s:\n%s", path, p.e.p);
	cr_expect(strstr(p.e.p, "shmbufd --socket"), "no hint how to start shmbufd:\n%s", p.e.p);
	proc_free(&p);

	/* A socket file nobody listens on (a daemon that died): ECONNREFUSED. */
	snprintf(stale, sizeof(stale), "/tmp/shmbufctl-test-stale.%d.sock", (int)getpid());
	memcpy(sa.sun_path, stale, strlen(stale) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind %s: %s", stale, strerror(errno));
	cr_expect_eq(ctl_runv(&p, NULL, 0, CTL_NO_SOCKET, "status", "--socket", stale, (const char *)NULL), 3,
		     "stderr: %s", p.e.p);
	cr_expect(strstr(p.e.p, stale), "the message does not name %s:\n%s", stale, p.e.p);
	proc_free(&p);
	close(fd);
	unlink(stale);
	expect_clean_shutdown();
}

Test(ctl, socket_comes_from_the_environment)
{
	struct proc p;

	cr_assert_eq(ctl_runv(&p, NULL, 0, CTL_ENV_SOCKET, "status", "--json", (const char *)NULL), 0, "stderr: %s",
		     p.e.p);
	proc_free(&p);
	/* Without --socket or $SHMBUF_SOCKET: the default path, named in the error. */
	if (ctl_runv(&p, NULL, 0, CTL_NO_SOCKET, "status", (const char *)NULL) == 3)
		cr_expect(strstr(p.e.p, "shmbufd.sock"), "no socket path in:\n%s", p.e.p);
	proc_free(&p);
	expect_clean_shutdown();
}

/* ---- segments ---- */

Test(ctl, create_list_destroy)
{
	const char *name = seg_name("cam0/frames");
	const struct jv *segs, *s;
	struct jv *v;
	struct proc p;
	char *out, want[300];

	free(ctl_ok("create", name, "4K", "--mode", "0600"));
	free(ctl_ok("create", seg_name("big"), "64M"));

	cr_assert_eq(CTL(&p, "create", name, "8K"), 1);
	snprintf(want, sizeof(want), "shmbufctl: create: %s: segment already exists\n", name);
	cr_expect_str_eq(p.e.p, want);
	proc_free(&p);

	out = ctl_ok("list");
	cr_expect(strstr(out, "NAME") && strstr(out, "SIZE") && strstr(out, "STATE"), "no header:\n%s", out);
	cr_expect(strstr(out, name) && strstr(out, "4 KiB") && strstr(out, "0600") && strstr(out, "live") &&
			  strstr(out, "64 MiB"),
		  "list:\n%s", out);
	free(out);
	out = ctl_ok("ls");
	cr_expect(strstr(out, name), "ls:\n%s", out);
	free(out);

	v = CTL_JSON("list", "--json");
	segs = jv_array(v, "segments");
	cr_assert_eq(segs->n, 2);
	s = jv_find(segs, "name", name);
	cr_assert_not_null(s, "%s not listed", name);
	cr_expect_eq(jv_u64(s, "size"), 4096);
	cr_expect_str_eq(jv_str(s, "mode"), "0600");
	cr_expect_eq(jv_u64(s, "uid"), getuid());
	cr_expect_str_eq(jv_str(s, "state"), "live");
	cr_expect_eq(jv_u64(s, "read_leases") + jv_u64(s, "write_leases") + jv_u64(s, "waiters"), 0);
	json_free(v);

	free(ctl_ok("destroy", name));
	v = CTL_JSON("list", "--json");
	cr_expect_null(jv_find(jv_array(v, "segments"), "name", name), "%s still listed after destroy", name);
	json_free(v);

	cr_assert_eq(CTL(&p, "destroy", name), 1);
	snprintf(want, sizeof(want), "shmbufctl: destroy: %s: no such segment\n", name);
	cr_expect_str_eq(p.e.p, want);
	proc_free(&p);
	expect_clean_shutdown();
}

Test(ctl, names_that_need_escaping_survive_json)
{
	const char *name = "q\"uote\\back slash";
	struct jv *v;

	free(ctl_ok("create", name, "1"));
	v = CTL_JSON("list", "--json");
	cr_expect_not_null(jv_find(jv_array(v, "segments"), "name", name));
	json_free(v);
	free(ctl_ok("destroy", name));
	expect_clean_shutdown();
}

Test(ctl, resize_changes_the_size)
{
	const char *name = seg_name("grow");
	struct jv *v;
	struct proc p;

	free(ctl_ok("create", name, "4KiB"));
	free(ctl_ok("resize", name, "1M"));
	v = CTL_JSON("list", "--json");
	cr_expect_eq(jv_u64(jv_find(jv_array(v, "segments"), "name", name), "size"), 1024 * 1024);
	json_free(v);
	cr_expect_eq(CTL(&p, "resize", seg_name("missing"), "1M"), 1);
	cr_expect(strstr(p.e.p, "no such segment"), "%s", p.e.p);
	proc_free(&p);
	expect_clean_shutdown();
}

Test(ctl, chmod_chown_and_users)
{
	const char *name = seg_name("owned");
	const struct jv *seg, *users;
	struct jv *v;
	struct proc p;

	free(ctl_ok("create", name, "4K", "--mode", "0600"));
	free(ctl_ok("chmod", "0640", name));
	free(ctl_ok("chown", "4242:4300", name));
	v = CTL_JSON("list", "--json");
	seg = jv_find(jv_array(v, "segments"), "name", name);
	cr_assert_not_null(seg);
	cr_expect_str_eq(jv_str(seg, "mode"), "0640");
	cr_expect_eq(jv_u64(seg, "uid"), 4242);
	cr_expect_eq(jv_u64(seg, "gid"), 4300);
	json_free(v);
	/* By uid: root (this shmbufctl), then 4242, the owner though it never connected. */
	v = CTL_JSON("users", "--json");
	users = jv_array(v, "users");
	cr_assert_eq(users->n, 2);
	cr_expect_eq(jv_u64(&users->items[0], "uid"), 0);
	cr_expect(jv_bool(&users->items[0], "exempt"));
	cr_expect_eq(jv_u64(&users->items[1], "uid"), 4242);
	cr_expect_not(jv_bool(&users->items[1], "exempt"));
	cr_expect_eq(jv_u64(&users->items[1], "segments"), 1);
	cr_expect_eq(jv_u64(&users->items[1], "bytes"), 4096);
	cr_expect_eq(jv_u64(&users->items[1], "connections"), 0);
	json_free(v);
	cr_expect_eq(CTL(&p, "chmod", "0999", name), 1);
	proc_free(&p);
	cr_expect_eq(CTL(&p, "chmod", "0644", seg_name("missing")), 1);
	cr_expect(strstr(p.e.p, "no such segment"), "%s", p.e.p);
	proc_free(&p);
	free(ctl_ok("destroy", name));
	expect_clean_shutdown();
}

Test(ctl, status_reports_the_daemon)
{
	struct jv *v;
	char *out;

	free(ctl_ok("create", seg_name("s"), "1M"));
	out = ctl_ok("status");
	cr_expect(strstr(out, daemon_socket()) && strstr(out, "segments:") && strstr(out, "uptime:"), "status:\n%s",
		  out);
	free(out);
	v = CTL_JSON("status", "--json");
	cr_expect_eq((pid_t)jv_u64(v, "pid"), daemon_pid());
	cr_expect_str_eq(jv_str(v, "socket"), daemon_socket());
	cr_expect_eq(jv_u64(v, "segments"), 1);
	cr_expect_eq(jv_u64(v, "bytes"), 1024 * 1024);
	cr_expect_gt(jv_u64(v, "max_bytes"), 0);
	cr_expect_geq(jv_u64(v, "clients"), 1);
	cr_expect_eq(jv_u64(v, "read_leases") + jv_u64(v, "write_leases") + jv_u64(v, "waiters"), 0);
	cr_expect_gt(strlen(jv_str(v, "version")), 0);
	json_free(v);
	expect_clean_shutdown();
}

Test(ctl, clients_lists_connections)
{
	shmbuf_client *c = client_new();
	const struct jv *list, *me = NULL, *self = NULL;
	struct jv *v;
	char *out;

	v = CTL_JSON("clients", "--json");
	list = jv_array(v, "clients");
	cr_assert_eq(list->n, 2);
	for (size_t i = 0; i < list->n; i++) {
		if ((pid_t)jv_u64(&list->items[i], "pid") == getpid())
			me = &list->items[i];
		if (jv_bool(&list->items[i], "self"))
			self = &list->items[i];
	}
	cr_assert_not_null(me, "this test process is not listed");
	cr_assert_not_null(self, "shmbufctl's own connection is not marked self");
	cr_expect_str_eq(jv_str(self, "comm"), "shmbufctl");
	cr_expect_eq(jv_u64(me, "uid"), getuid());
	cr_expect_eq(jv_u64(me, "leases"), 0);
	json_free(v);
	out = ctl_ok("clients");
	cr_expect(strstr(out, "COMMAND") && strstr(out, "shmbufctl") && strstr(out, "self"), "clients:\n%s", out);
	free(out);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(ctl, odd_command_names_stay_valid_json)
{
	shmbuf_client *c;
	const struct jv *list, *me = NULL;
	struct jv *v;
	char *out;

	/* A command name is whatever the process set: here not UTF-8, with JSON's special characters. */
	cr_assert_eq(prctl(PR_SET_NAME, "odd\xff\"\\x"), 0);
	c = client_new();
	v = CTL_JSON("clients", "--json");
	list = jv_array(v, "clients");
	for (size_t i = 0; i < list->n; i++)
		if ((pid_t)jv_u64(&list->items[i], "pid") == getpid())
			me = &list->items[i];
	cr_assert_not_null(me);
	cr_expect_str_eq(jv_str(me, "comm"), "odd\xef\xbf\xbd\"\\x"); /* U+FFFD for the stray byte */
	json_free(v);
	out = ctl_ok("clients");
	cr_expect(strstr(out, "odd?\"\\x"), "clients:\n%s", out);
	free(out);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* ---- bytes ---- */

Test(ctl, write_then_read_round_trips_bytes)
{
	const char *name = seg_name("bytes");
	uint8_t data[70000];
	struct proc p;
	char want[64];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / 256);
	free(ctl_ok("create", name, "128K"));
	cr_assert_eq(CTL_IN(&p, data, sizeof(data), "write", name, "--offset", "4099"), 0, "%s", p.e.p);
	proc_free(&p);

	cr_assert_eq(CTL(&p, "read", name, "--offset", "4099", "--length", "70000"), 0, "%s", p.e.p);
	cr_assert_eq(p.o.len, sizeof(data));
	cr_expect(memcmp(p.o.p, data, sizeof(data)) == 0, "the bytes read back differ");
	proc_free(&p);

	/* Bytes outside the written range were not touched. */
	cr_assert_eq(CTL(&p, "read", name, "--raw", "--length", "4099"), 0, "%s", p.e.p);
	cr_expect(p.o.len == 4099 && all_zero(p.o.p, 4099));
	proc_free(&p);

	/* --hex: hexdump -C style, offsets within the segment. */
	cr_assert_eq(CTL(&p, "read", name, "--hex", "--offset", "4099", "--length", "16"), 0, "%s", p.e.p);
	snprintf(want, sizeof(want), "00001003  %02x %02x %02x", data[0], data[1], data[2]);
	cr_expect(strncmp(p.o.p, want, strlen(want)) == 0, "hex dump:\n%s\nwanted it to start with %s", p.o.p, want);
	cr_expect(strstr(p.o.p, "00001013\n"), "no end offset:\n%s", p.o.p);
	proc_free(&p);

	/* Input longer than the range: refused, nothing written. */
	cr_expect_eq(CTL_IN(&p, data, 10, "write", name, "--length", "4"), 1);
	cr_expect(strstr(p.e.p, "longer"), "%s", p.e.p);
	proc_free(&p);
	expect_clean_shutdown();
}

Test(ctl, write_fill_sets_every_byte_of_the_range)
{
	const char *name = seg_name("fill");
	struct proc p;

	free(ctl_ok("create", name, "8K"));
	free(ctl_ok("write", name, "--fill", "0x5a", "--offset", "100", "--length", "1000"));
	cr_assert_eq(CTL(&p, "read", name, "--raw"), 0, "%s", p.e.p);
	cr_assert_eq(p.o.len, 8192);
	for (size_t i = 0; i < p.o.len; i++)
		cr_assert_eq((uint8_t)p.o.p[i], i >= 100 && i < 1100 ? 0x5a : 0, "byte %zu", i);
	proc_free(&p);
	/* Without --length, to the end of the segment. */
	free(ctl_ok("write", name, "--fill", "255", "--offset", "8000"));
	cr_assert_eq(CTL(&p, "read", name, "--raw", "--offset", "7999"), 0, "%s", p.e.p);
	cr_expect(p.o.len == 193 && p.o.p[0] == 0 && (uint8_t)p.o.p[1] == 255 && (uint8_t)p.o.p[192] == 255);
	proc_free(&p);
	expect_clean_shutdown();
}

Test(ctl, missing_segments_exit_1)
{
	const char *name = seg_name("nothing");
	static const char *const cmds[][3] = { { "read", NULL }, { "destroy", NULL }, { "resize", "4K" },
					       { "leases", NULL }, { "hold", "--read" }, { "write", "--fill=1" } };
	char want[300];

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct proc p;
		int code = CTL(&p, cmds[i][0], name, cmds[i][1]);

		cr_expect_eq(code, 1, "%s exited %d; stderr: %s", cmds[i][0], code, p.e.p);
		snprintf(want, sizeof(want), "shmbufctl: %s: %s: no such segment\n", cmds[i][0], name);
		cr_expect_str_eq(p.e.p, want);
		proc_free(&p);
	}
	expect_clean_shutdown();
}

Test(ctl, a_bad_name_is_refused_saying_what_is_wrong)
{
	static const struct {
		const char *name, *why;
	} bad[] = {
		{ "", "the name is empty" },
		{ "/frames", "starts with '/'" },
		{ "cam\x01", "byte 0x01 at position 4 is not printable ASCII" },
	};
	char long_name[300], odd[64];
	struct proc p;
	struct jv *v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(CTL(&p, "create", bad[i].name, "4K"), 1, "%s", p.e.p);
		cr_expect(strstr(p.e.p, bad[i].why), "'%s': %s", bad[i].name, p.e.p);
		proc_free(&p);
	}
	memset(long_name, 'n', 256);
	long_name[256] = '\0';
	cr_expect_eq(CTL(&p, "destroy", long_name), 1, "%s", p.e.p);
	cr_expect(strstr(p.e.p, "longer than 255 bytes"), "%s", p.e.p);
	proc_free(&p);

	/* Spaces and a trailing '/' are accepted on purpose (names are keys, not paths). */
	snprintf(odd, sizeof(odd), "%s cam 0/", seg_name("odd"));
	free(ctl_ok("create", odd, "4K"));
	v = CTL_JSON("list", "--json");
	cr_expect_not_null(jv_find(jv_array(v, "segments"), "name", odd));
	json_free(v);
	expect_clean_shutdown();
}

Test(ctl, limit_errors_give_sizes_in_words)
{
	struct proc p;

	cr_expect_eq(CTL(&p, "create", seg_name("huge"), "1E"), 1, "%s", p.e.p);
	cr_expect(strstr(p.e.p, "1 EiB more would pass the byte limit of "), "%s", p.e.p);
	proc_free(&p);
	expect_clean_shutdown();
}

/* ---- hold and leases, across processes ---- */

Test(ctl, hold_in_one_process_shows_in_leases_of_another)
{
	const char *name = seg_name("held");
	shmbuf_client *c = client_new();
	const struct jv *leases, *w = NULL, *r = NULL;
	struct proc writer, reader, p;
	struct jv *v;
	char *out, pid[16];

	free(ctl_ok("create", name, "64K"));
	ctl_start(&writer, 0, "hold", name, "--write", "--offset", "4K", "--length", "4K", (const char *)NULL);
	cr_assert(proc_wait_output(&writer, "holding write lease", RUN_TIMEOUT_MS), "hold printed: %s / %s",
		  writer.o.p, writer.e.p);

	/* A conflicting read fails at once, naming the holder, and waits with --wait. */
	cr_expect_eq(CTL(&p, "read", name, "--offset", "6K", "--length", "1"), 1);
	cr_expect(strstr(p.e.p, "leased"), "%s", p.e.p);
	snprintf(pid, sizeof(pid), "pid %d ", (int)writer.pid);
	cr_expect(strstr(p.e.p, "write lease") && strstr(p.e.p, pid) && strstr(p.e.p, "(shmbufctl)"),
		  "BUSY does not name the holder: %s", p.e.p);
	proc_free(&p);
	ctl_start(&reader, 0, "hold", name, "--read", "--wait", "-1", (const char *)NULL);
	cr_assert_eq(wait_for_waiters(c, name, 1, 10000), 0);

	v = CTL_JSON("leases", name, "--json");
	leases = jv_array(v, "leases");
	cr_assert_eq(leases->n, 2);
	for (size_t i = 0; i < leases->n; i++) {
		if ((pid_t)jv_u64(&leases->items[i], "pid") == writer.pid)
			w = &leases->items[i];
		if ((pid_t)jv_u64(&leases->items[i], "pid") == reader.pid)
			r = &leases->items[i];
	}
	cr_assert(w && r, "holders not found by pid");
	cr_expect_str_eq(jv_str(w, "segment"), name);
	cr_expect_str_eq(jv_str(w, "mode"), "write");
	cr_expect_str_eq(jv_str(w, "state"), "held");
	cr_expect_str_eq(jv_str(w, "comm"), "shmbufctl");
	cr_expect_eq(jv_u64(w, "offset"), 4096);
	cr_expect_eq(jv_u64(w, "length"), 4096);
	cr_expect_eq(jv_u64(w, "uid"), getuid());
	cr_expect_str_eq(jv_str(r, "mode"), "read");
	cr_expect_str_eq(jv_str(r, "state"), "waiting");
	cr_expect_eq(jv_u64(r, "blocked_by"), jv_u64(w, "id"), "the waiter is blocked by the writer");
	cr_expect_eq(jv_u64(w, "blocked_by"), 0, "a held lease is blocked by nothing");
	json_free(v);

	/* The table shows the holder's pid and command name. */
	out = ctl_ok("leases");
	snprintf(pid, sizeof(pid), " %d ", (int)writer.pid);
	cr_expect(strstr(out, pid) && strstr(out, "shmbufctl") && strstr(out, "waiting") && strstr(out, "held") &&
		  strstr(out, "BLOCKED-BY"), "leases:\n%s", out);
	free(out);
	v = CTL_JSON("status", "--json");
	cr_expect_eq(jv_u64(v, "write_leases"), 1);
	cr_expect_eq(jv_u64(v, "waiters"), 1);
	json_free(v);

	/* SIGTERM ends a hold cleanly: released, exit 0; the waiting reader gets its lease. */
	kill(writer.pid, SIGTERM);
	cr_expect_eq(proc_finish(&writer), 0, "%s", writer.e.p);
	cr_assert(proc_wait_output(&reader, "holding read lease", RUN_TIMEOUT_MS), "reader: %s / %s", reader.o.p,
		  reader.e.p);
	kill(reader.pid, SIGINT);
	cr_expect_eq(proc_finish(&reader), 0, "%s", reader.e.p);
	proc_free(&writer);
	proc_free(&reader);

	v = CTL_JSON("leases", "--json");
	cr_expect_eq(jv_array(v, "leases")->n, 0, "leases left after both holds ended");
	json_free(v);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

Test(ctl, hold_for_ends_by_itself)
{
	const char *name = seg_name("brief");
	struct proc p;
	int64_t start;
	struct jv *v;

	free(ctl_ok("create", name, "4K"));
	start = now_ms();
	cr_assert_eq(CTL(&p, "hold", name, "--read", "--for", "0.3"), 0, "%s", p.e.p);
	cr_expect_geq(now_ms() - start, 300);
	cr_expect(strstr(p.o.p, "holding read lease"), "%s", p.o.p);
	proc_free(&p);
	v = CTL_JSON("leases", "--json");
	cr_expect_eq(jv_array(v, "leases")->n, 0);
	json_free(v);
	expect_clean_shutdown();
}

/* ---- watch ---- */

/* The events of `watch --json` output so far, one parsed object per line. */
static const struct jv *find_event(struct jv **events, size_t n, const char *type, const char *segment)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(jv_str(events[i], "event"), type) == 0 &&
		    (!segment || strcmp(jv_str(events[i], "segment"), segment) == 0))
			return events[i];
	return NULL;
}

Test(ctl, watch_sees_a_create_and_a_release)
{
	const char *name = seg_name("watched");
	struct proc w, text;
	struct jv *events[256];
	const struct jv *created, *acquired, *released;
	size_t n = 0;
	char *line, *nl;

	ctl_start(&w, 0, "watch", "--json", (const char *)NULL);
	ctl_start(&text, 0, "watch", (const char *)NULL);
	wait_subscribed(w.pid);
	wait_subscribed(text.pid);

	free(ctl_ok("create", name, "16K"));
	free(ctl_ok("hold", name, "--write", "--length", "100", "--for", "0"));
	cr_assert(proc_wait_output(&w, "\"lease-released\"", RUN_TIMEOUT_MS), "watch --json printed:\n%s\n%s", w.o.p,
		  w.e.p);
	cr_assert(proc_wait_output(&text, "lease-released", RUN_TIMEOUT_MS), "watch printed:\n%s\n%s", text.o.p,
		  text.e.p);

	/* Every line is one JSON object. */
	for (line = w.o.p; (nl = strchr(line, '\n')) && n < 256; line = nl + 1) {
		*nl = '\0';
		events[n++] = json_parse(line);
	}
	created = find_event(events, n, "segment-created", name);
	acquired = find_event(events, n, "lease-acquired", name);
	released = find_event(events, n, "lease-released", name);
	cr_assert(created && acquired && released, "events missing in:\n%s", w.o.p);
	cr_expect_eq(jv_u64(created, "size"), 16384);
	cr_expect_str_eq(jv_str(created, "comm"), "shmbufctl");
	cr_expect_eq(jv_u64(acquired, "lease_id"), jv_u64(released, "lease_id"));
	cr_expect_str_eq(jv_str(acquired, "mode"), "write");
	cr_expect_eq(jv_u64(acquired, "length"), 100);
	cr_expect_gt(jv_u64(created, "time_ns"), 0);
	for (size_t i = 0; i < n; i++)
		json_free(events[i]);

	cr_expect(strstr(text.o.p, "segment-created") && strstr(text.o.p, name), "watch printed:\n%s", text.o.p);

	/* watch runs until a signal ends it. */
	kill(w.pid, SIGTERM);
	kill(text.pid, SIGINT);
	cr_expect_eq(proc_finish(&w), 128 + SIGTERM);
	cr_expect_eq(proc_finish(&text), 128 + SIGINT);
	proc_free(&w);
	proc_free(&text);
	expect_clean_shutdown();
}

Test(ctl, watch_filters_by_segment_and_type_and_says_why_a_wait_ended)
{
	const char *a = seg_name("wa"), *b = seg_name("wb");
	struct proc w, text, holder, p;
	struct jv *events[256];
	const struct jv *cancelled;
	size_t n = 0;
	char *line, *nl;

	cr_expect_eq(CTL(&p, "watch", "--type", "lease-bogus"), 2);
	cr_expect(strstr(p.e.p, "'lease-bogus' is not an event type"), "%s", p.e.p);
	proc_free(&p);

	ctl_start(&w, 0, "watch", "--json", "--segment", a, "--type", "lease", (const char *)NULL);
	ctl_start(&text, 0, "watch", "-t", "lease-cancelled", "--type", "client-connected,segment-resized",
		  (const char *)NULL);
	wait_subscribed(w.pid);
	wait_subscribed(text.pid);

	free(ctl_ok("create", a, "16K"));
	free(ctl_ok("create", b, "16K"));
	free(ctl_ok("hold", b, "--write", "--for", "0")); /* another segment: not shown by w */
	ctl_start(&holder, 0, "hold", a, "--write", (const char *)NULL);
	cr_assert(proc_wait_output(&holder, "holding write lease", RUN_TIMEOUT_MS), "%s", holder.e.p);
	cr_expect_eq(CTL(&p, "read", a, "--wait", "50"), 1, "%s", p.e.p);
	proc_free(&p);

	cr_assert(proc_wait_output(&w, "\"lease-cancelled\"", RUN_TIMEOUT_MS), "watch --json printed:\n%s\n%s", w.o.p,
		  w.e.p);
	cr_assert(proc_wait_output(&text, "reason: timeout", RUN_TIMEOUT_MS), "watch printed:\n%s\n%s", text.o.p,
		  text.e.p);
	for (line = w.o.p; (nl = strchr(line, '\n')) && n < 256; line = nl + 1) {
		*nl = '\0';
		events[n] = json_parse(line);
		cr_expect_str_eq(jv_str(events[n], "segment"), a, "--segment let another segment's event by");
		cr_expect(strncmp(jv_str(events[n], "event"), "lease-", 6) == 0, "--type lease let %s by",
			  jv_str(events[n], "event"));
		n++;
	}
	cancelled = find_event(events, n, "lease-cancelled", a);
	cr_assert_not_null(cancelled);
	cr_expect_str_eq(jv_str(cancelled, "reason"), "timeout");
	cr_expect_not_null(find_event(events, n, "lease-waiting", a));
	for (size_t i = 0; i < n; i++)
		json_free(events[i]);
	cr_expect(!strstr(text.o.p, "segment-created") && !strstr(text.o.p, "lease-acquired"),
		  "--type let other types by:\n%s", text.o.p);

	/* The holder ends cleanly: a release, not a cancellation. */
	kill(holder.pid, SIGTERM);
	cr_expect_eq(proc_finish(&holder), 0, "%s", holder.e.p);
	proc_free(&holder);
	kill(w.pid, SIGTERM);
	kill(text.pid, SIGTERM);
	proc_finish(&w);
	proc_finish(&text);
	proc_free(&w);
	proc_free(&text);
	expect_clean_shutdown();
}

Test(ctl, a_wait_ended_by_destroy_or_disconnect_says_so)
{
	const char *name = seg_name("wd");
	struct proc w, holder, waiter, waiter2;
	shmbuf_client *c = client_new();

	ctl_start(&w, 0, "watch", "--segment", name, "--type", "lease-cancelled", (const char *)NULL);
	wait_subscribed(w.pid);
	free(ctl_ok("create", name, "16K"));
	ctl_start(&holder, 0, "hold", name, "--write", (const char *)NULL);
	cr_assert(proc_wait_output(&holder, "holding write lease", RUN_TIMEOUT_MS), "%s", holder.e.p);
	ctl_start(&waiter, 0, "hold", name, "--read", "--wait", "-1", (const char *)NULL);
	cr_assert_eq(wait_for_waiters(c, name, 1, 10000), 0);
	kill(waiter.pid, SIGKILL);
	cr_assert(proc_wait_output(&w, "reason: disconnect", RUN_TIMEOUT_MS), "watch printed:\n%s", w.o.p);
	proc_finish(&waiter);
	ctl_start(&waiter2, 0, "hold", name, "--read", "--wait", "-1", (const char *)NULL);
	cr_assert_eq(wait_for_waiters(c, name, 1, 10000), 0);
	free(ctl_ok("destroy", name));
	cr_assert(proc_wait_output(&w, "reason: destroy", RUN_TIMEOUT_MS), "watch printed:\n%s", w.o.p);
	cr_expect_eq(proc_finish(&waiter2), 1, "%s", waiter2.e.p);
	kill(holder.pid, SIGTERM);
	proc_finish(&holder);
	kill(w.pid, SIGTERM);
	proc_finish(&w);
	proc_free(&waiter);
	proc_free(&waiter2);
	proc_free(&holder);
	proc_free(&w);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* Stop the daemon behind the test's back, and wait until it has exited. It is
 * left unreaped (WNOWAIT) for expect_clean_shutdown(), which would otherwise
 * send a second SIGTERM into its shutdown. */
static void daemon_kill_and_wait(void)
{
	siginfo_t info;

	cr_assert_eq(kill(daemon_pid(), SIGTERM), 0);
	cr_assert_eq(waitid(P_PID, (id_t)daemon_pid(), &info, WEXITED | WNOWAIT), 0, "waitid: %s", strerror(errno));
}

Test(ctl, watch_exits_3_when_the_daemon_goes)
{
	struct proc w;

	ctl_start(&w, 0, "watch", (const char *)NULL);
	wait_subscribed(w.pid);
	daemon_kill_and_wait();
	cr_expect_eq(proc_finish(&w), 3, "%s", w.e.p);
	cr_expect(strstr(w.e.p, "shmbufctl: watch: "), "%s", w.e.p);
	proc_free(&w);
	expect_clean_shutdown();
}

Test(ctl, output_that_cannot_be_written_exits_1)
{
	char cmd[512];
	int st;

	free(ctl_ok("create", seg_name("full"), "4K"));
	snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' list --json >/dev/full 2>/dev/null", SHMBUFCTL_PATH,
		 daemon_socket());
	st = system(cmd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "list --json > /dev/full: status %#x", st);
	snprintf(cmd, sizeof(cmd), "'%s' --help >/dev/full 2>/dev/null", SHMBUFCTL_PATH);
	st = system(cmd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "--help > /dev/full: status %#x", st);
	expect_clean_shutdown();
}

Test(ctl, hold_exits_3_when_the_daemon_goes)
{
	const char *name = seg_name("holdgone");
	struct proc h;

	free(ctl_ok("create", name, "4K"));
	ctl_start(&h, 0, "hold", name, "--write", (const char *)NULL);
	cr_assert(proc_wait_output(&h, "holding write lease", RUN_TIMEOUT_MS), "hold printed: %s / %s", h.o.p,
		  h.e.p);
	daemon_kill_and_wait();
	cr_expect_eq(proc_finish(&h), 3, "%s", h.e.p);
	cr_expect(strstr(h.e.p, "connection to shmbufd lost"), "%s", h.e.p);
	proc_free(&h);
	expect_clean_shutdown();
}

Test(ctl, read_wait_newer_waits_for_the_next_write)
{
	const char *name = seg_name("newer");
	shmbuf_client *c = client_new();
	const struct jv *s;
	struct proc r, p;
	struct jv *lv;
	shmbuf_view v;

	free(ctl_ok("create", name, "4K"));
	ctl_start(&r, 0, "read", name, "--length", "4", "--raw", "--wait-newer", (const char *)NULL);
	cr_assert_eq(wait_for_waiters(c, name, 1, 10000), 0);
	/* The waiting read blocks no writer: timeout 0 succeeds. */
	cr_assert_eq(shmbuf_acquire(c, name, 0, 4, SHMBUF_WRITE, 0, &v, sizeof(v)), 0);
	memcpy(v.data, "news", 4);
	cr_assert_eq(shmbuf_release(c, &v, sizeof(v)), 0);
	cr_expect_eq(proc_finish(&r), 0, "%s", r.e.p);
	cr_expect_eq(r.o.len, 4);
	cr_expect_eq(memcmp(r.o.p, "news", 4), 0, "%s", r.o.p);
	proc_free(&r);
	/* With GEN: generation 1 is there already; 0 has news at once, 1 times out. */
	cr_expect_eq(CTL(&p, "read", name, "--length", "4", "--raw", "--wait-newer=0"), 0, "%s", p.e.p);
	proc_free(&p);
	cr_expect_eq(CTL(&p, "read", name, "--wait-newer=1", "--wait", "0"), 1, "%s", p.e.p);
	proc_free(&p);
	lv = CTL_JSON("list", "--json");
	s = jv_find(jv_array(lv, "segments"), "name", name);
	cr_assert_not_null(s);
	cr_expect_eq(jv_u64(s, "generation"), 1);
	json_free(lv);
	shmbuf_disconnect(c);
	expect_clean_shutdown();
}

/* A stopped daemon is what one runs a debugging tool on: shmbufctl gives up with exit 3
 * after its answer deadline ($SHMBUFCTL_TIMEOUT, 10 s by default) instead of hanging. */
Test(ctl, a_stopped_daemon_is_reported_not_waited_for)
{
	struct proc p;
	int code;

	cr_assert_eq(setenv("SHMBUFCTL_TIMEOUT", "1", 1), 0);
	cr_assert_eq(kill(daemon_pid(), SIGSTOP), 0);
	code = CTL(&p, "status");
	cr_assert_eq(kill(daemon_pid(), SIGCONT), 0);
	cr_expect_eq(code, 3, "exit %d; stderr:\n%s", code, p.e.p);
	cr_expect(strstr(p.e.p, "did not answer within 1 s"), "stderr:\n%s", p.e.p);
	proc_free(&p);
	/* Running again, it is served as before. */
	code = CTL(&p, "status");
	cr_expect_eq(code, 0, "after SIGCONT: exit %d; stderr:\n%s", code, p.e.p);
	proc_free(&p);
	/* A command that waits on purpose is not cut short by the deadline once connected. */
	free(ctl_ok("create", seg_name("held"), "4K"));
	code = CTL(&p, "hold", seg_name("held"), "--write", "--for", "1.5");
	cr_expect_eq(code, 0, "hold --for 1.5 with a 1 s deadline: exit %d; stderr:\n%s", code, p.e.p);
	proc_free(&p);
	expect_clean_shutdown();
}
