/* SPDX-License-Identifier: MIT */
/* main.c: the shmbufctl command line: global options, the command table, per-command
 * option parsing and help, the socket path, connecting, and error reporting. */
#define _GNU_SOURCE
#include "ctl.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "size.h"

/* Options a command may accept; a command lists its own as a bit mask. */
enum opt {
	OPT_JSON = 1u << 0,
	OPT_MODE = 1u << 1,
	OPT_OFFSET = 1u << 2,
	OPT_LENGTH = 1u << 3,
	OPT_HEX = 1u << 4,
	OPT_RAW = 1u << 5,
	OPT_FILL = 1u << 6,
	OPT_WAIT = 1u << 7,
	OPT_FOR = 1u << 8,
	OPT_READ = 1u << 9,
	OPT_WRITE = 1u << 10,
	/* Every command takes these two. */
	OPT_HELP = 1u << 11,
	OPT_SOCKET = 1u << 12,
	OPT_SEGMENT = 1u << 13,
	OPT_TYPE = 1u << 14,
	OPT_NEWER = 1u << 15,
	OPT_SEALED = 1u << 16,
};

struct opt_def {
	enum opt id;
	struct option lo; /* .val is the short option, or 256 + bit number */
};

static const struct opt_def opt_defs[] = {
	{ OPT_JSON, { "json", no_argument, NULL, 'j' } },
	{ OPT_MODE, { "mode", required_argument, NULL, 'm' } },
	{ OPT_OFFSET, { "offset", required_argument, NULL, 'o' } },
	{ OPT_LENGTH, { "length", required_argument, NULL, 'l' } },
	{ OPT_HEX, { "hex", no_argument, NULL, 'x' } },
	{ OPT_RAW, { "raw", no_argument, NULL, 256 + 5 } },
	{ OPT_FILL, { "fill", required_argument, NULL, 256 + 6 } },
	{ OPT_WAIT, { "wait", required_argument, NULL, 256 + 7 } },
	{ OPT_FOR, { "for", required_argument, NULL, 256 + 8 } },
	{ OPT_NEWER, { "wait-newer", optional_argument, NULL, 256 + 15 } },
	{ OPT_READ, { "read", no_argument, NULL, 'r' } },
	{ OPT_WRITE, { "write", no_argument, NULL, 'w' } },
	{ OPT_SEALED, { "sealed", no_argument, NULL, 256 + 16 } },
	{ OPT_HELP, { "help", no_argument, NULL, 'h' } },
	{ OPT_SOCKET, { "socket", required_argument, NULL, 's' } },
	{ OPT_SEGMENT, { "segment", required_argument, NULL, 256 + 13 } },
	{ OPT_TYPE, { "type", required_argument, NULL, 't' } },
};

#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

#define SOCKET_HELP "  -s, --socket PATH  shmbufd's socket (default: $SHMBUF_SOCKET, else the default path)\n"
#define HELP_HELP "  -h, --help         show this help\n"
#define WAIT_HELP                                                                                    \
	"      --wait MS      wait up to MS milliseconds for a conflicting lease to end\n"             \
	"                     (default 0: fail at once; -1: wait as long as it takes)\n"
#define RANGE_HELP                                                                                   \
	"  -o, --offset N     first byte of the range (default 0)\n"                                   \
	"  -l, --length N     bytes in the range (default: to the end of the segment)\n"

struct command {
	const char *name, *alias;
	int (*run)(const struct args *a);
	unsigned opts; /* enum opt bits, besides OPT_HELP and OPT_SOCKET */
	int min_args, max_args;
	const char *usage;   /* after "shmbufctl NAME " */
	const char *summary; /* one line, for the overall help */
	const char *help;    /* what it does and its options */
};

static const struct command commands[] = {
	{ "status", NULL, cmd_status, OPT_JSON, 0, 0, "[--json]", "daemon version, uptime, socket, usage and limits",
	  "Show shmbufd's version, pid, uptime and socket, and its segments, bytes,\n"
	  "leases, waiters and clients against their limits.\n\n"
	  "  -j, --json         print one JSON object\n" },
	{ "list", "ls", cmd_list, OPT_JSON, 0, 0, "[--json]", "one row per segment",
	  "List segments: name, size, mode, owner, read and write leases, waiters,\n"
	  "generation (write leases ended on it), and state (live, or destroyed but\n"
	  "kept alive by its leases).\n\n"
	  "  -j, --json         print one JSON object\n" },
	{ "leases", NULL, cmd_leases, OPT_JSON, 0, 1, "[NAME] [--json]", "one row per lease, waiting requests too",
	  "List leases held and acquire requests waiting, of every segment or of NAME:\n"
	  "id, segment, offset, length, read or write, held or waiting, the holder's\n"
	  "pid, user and command name, age, and for a waiting request the lease\n"
	  "that blocks it (BLOCKED-BY).\n\n"
	  "  -j, --json         print one JSON object\n" },
	{ "clients", NULL, cmd_clients, OPT_JSON, 0, 0, "[--json]", "one row per connection",
	  "List connections to shmbufd: id, pid, user, command name, leases held,\n"
	  "acquires waiting, age, and flags (self: this shmbufctl; subscribed: watching).\n\n"
	  "  -j, --json         print one JSON object\n" },
	{ "users", NULL, cmd_users, OPT_JSON, 0, 0, "[--json]", "each user's usage against its quotas",
	  "List users with what each uses against its quotas: connections, segments\n"
	  "and bytes it owns, leases its clients hold or wait for. Root sees every\n"
	  "user; others see themselves. Root and shmbufd's own user are exempt from\n"
	  "the per-user quotas (flag \"exempt\"; their maxima are the daemon's).\n\n"
	  "  -j, --json         print one JSON object\n" },
	{ "create", NULL, cmd_create, OPT_MODE | OPT_SEALED, 2, 2, "NAME SIZE [--mode MODE] [--sealed]",
	  "create a segment",
	  "Create segment NAME of SIZE bytes (suffixes K, M, G, T, P, E: powers of 1024).\n\n"
	  "  -m, --mode MODE    permission bits, octal (default 0640)\n"
	  "      --sealed       fixed size, pinned by the kernel: no client can shrink or\n"
	  "                     grow it (resize is refused)\n" },
	{ "destroy", NULL, cmd_destroy, 0, 1, 1, "NAME", "remove a segment",
	  "Remove segment NAME. Its memory stays until the last lease on it ends.\n" },
	{ "resize", NULL, cmd_resize, 0, 2, 2, "NAME SIZE", "change a segment's size",
	  "Change the size of segment NAME to SIZE bytes. Shrinking below a leased byte fails.\n" },
	{ "chmod", NULL, cmd_chmod, 0, 2, 2, "MODE NAME", "change a segment's permission bits",
	  "Set the permission bits of segment NAME to MODE (octal, 0 to 0777). Only its\n"
	  "owner (or root) may. Read bits allow read leases, write bits write leases and\n"
	  "resizing; a user with no bit of its class cannot see the segment at all.\n" },
	{ "chown", NULL, cmd_chown, 0, 2, 2, "OWNER[:GROUP] NAME", "change a segment's owner or group",
	  "Give segment NAME to OWNER and/or GROUP (names or numbers; \":GROUP\" keeps the\n"
	  "owner). Only root gives a segment to another user; its owner may pick any\n"
	  "group it is in.\n" },
	{ "read", NULL, cmd_read, OPT_OFFSET | OPT_LENGTH | OPT_HEX | OPT_RAW | OPT_WAIT | OPT_NEWER, 1, 1,
	  "NAME [--offset N] [--length N] [--hex|--raw] [--wait MS] [--wait-newer[=GEN]]",
	  "print a range of a segment",
	  "Take a read lease on a range of segment NAME and print its bytes: as a hex\n"
	  "dump on a terminal, raw otherwise.\n\n" RANGE_HELP
	  "  -x, --hex          always print a hex dump\n"
	  "      --raw          always print the raw bytes\n" WAIT_HELP
	  "      --wait-newer[=GEN]  first wait for a write to the range after generation GEN\n"
	  "                     (default: the segment's generation now, i.e. the next write);\n"
	  "                     waits as long as it takes unless --wait is given\n" },
	{ "write", NULL, cmd_write, OPT_OFFSET | OPT_LENGTH | OPT_FILL | OPT_WAIT, 1, 1,
	  "NAME [--offset N] [--length N] [--fill BYTE] [--wait MS]", "copy stdin (or a fill byte) into a segment",
	  "Take a write lease on a range of segment NAME and copy standard input into\n"
	  "it. The range starts at --offset and is as long as the input, or --length\n"
	  "bytes (the input may then be shorter, never longer).\n"
	  "With --fill, set every byte of the range to BYTE instead (0..255, e.g. 0x41);\n"
	  "the range then runs to the end of the segment unless --length is given.\n\n"
	  "  -o, --offset N     first byte of the range (default 0)\n"
	  "  -l, --length N     bytes in the range\n"
	  "      --fill BYTE    fill the range with BYTE instead of reading stdin\n" WAIT_HELP },
	{ "hold", NULL, cmd_hold, OPT_OFFSET | OPT_LENGTH | OPT_READ | OPT_WRITE | OPT_WAIT | OPT_FOR, 1, 1,
	  "NAME (--read|--write) [--offset N] [--length N] [--wait MS] [--for SECONDS]",
	  "take a lease and keep it, to reproduce conflicts",
	  "Take a read or write lease on a range of segment NAME and keep it until\n"
	  "interrupted (SIGINT, SIGTERM, SIGHUP) or, with --for, until the time is up;\n"
	  "then release it and exit 0. Prints one line once the lease is held.\n\n"
	  "  -r, --read         take a read lease (shared)\n"
	  "  -w, --write        take a write lease (exclusive over its range)\n" RANGE_HELP WAIT_HELP
	  "      --for SECONDS  release after SECONDS (decimals allowed)\n" },
	{ "watch", NULL, cmd_watch, OPT_JSON | OPT_SEGMENT | OPT_TYPE, 0, 0, "[--segment NAME] [--type TYPE,...] [--json]",
	  "print events as they happen",
	  "Print one line per event (segment created, resized, destroyed, freed; lease\n"
	  "acquired, released, waiting, cancelled; client connected, disconnected)\n"
	  "until interrupted. A cancelled wait says why it ended (timeout, destroy,\n"
	  "shrink, disconnect, cancel).\n\n"
	  "      --segment NAME only events about segment NAME and its leases\n"
	  "  -t, --type TYPE,...\n"
	  "                     only these event types: segment, lease, client (every\n"
	  "                     type of that kind) or one type, e.g. lease-cancelled;\n"
	  "                     repeat the option or separate types with commas\n"
	  "  -j, --json         print one JSON object per line\n" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void main_usage(FILE *f)
{
	fprintf(f, "Usage: shmbufctl [--socket PATH] COMMAND [ARGS]...\n"
		   "Inspect and operate a running shmbufd.\n\nCommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "%s%s%s", commands[i].name, commands[i].alias ? ", " : "",
			 commands[i].alias ? commands[i].alias : "");
		fprintf(f, "  %-10s %s\n", name, commands[i].summary);
	}
	fprintf(f, "\nOptions:\n" SOCKET_HELP HELP_HELP "  -V, --version      show the version\n"
		   "\nSIZE, N: bytes, with K, M, G, T, P, E suffixes (powers of 1024), e.g. 64M.\n"
		   "Run 'shmbufctl COMMAND --help' for a command's options; see shmbufctl(1).\n"
		   "Exit status: 0 success, 1 failure, 2 usage error, 3 shmbufd not reachable.\n");
}

static void command_help(const struct command *cmd)
{
	printf("Usage: shmbufctl %s %s\n", cmd->name, cmd->usage);
	if (cmd->alias)
		printf("       shmbufctl %s ...\n", cmd->alias);
	printf("%s\n", cmd->help);
	printf("Common options:\n" SOCKET_HELP HELP_HELP);
}

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "shmbufctl: %s%s", cmd ? cmd : "", cmd ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'shmbufctl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return EXIT_USAGE;
}

/* ---- the socket path ---- */

/* The rule documented at shmbuf_connect() in shmbuf.h. Resolved here, and the
 * result passed to shmbuf_connect(), so that an error names the path tried. */
/* --socket, else where libshmbuf looks first ($SHMBUF_SOCKET or the default). */
static int resolve_socket(const char *opt, char *buf, size_t cap)
{
	if (!opt)
		return shmbuf_default_socket_path(buf, cap);
	if (strlen(opt) >= cap)
		return -ENAMETOOLONG;
	memcpy(buf, opt, strlen(opt) + 1);
	return 0;
}

/* ---- option values ---- */

static int parse_size_opt(const char *cmd, const char *opt, const char *arg, uint64_t *out)
{
	int r = size_parse(arg, out);

	if (r == -ERANGE)
		return usage_error(cmd, "%s: '%s' is too large", opt, arg);
	if (r < 0)
		return usage_error(cmd, "%s: '%s' is not a size (e.g. 4096, 4K, 64M, 1G)", opt, arg);
	return 0;
}

static int parse_long_opt(const char *cmd, const char *opt, const char *arg, int base, long min, long max,
			  long *out)
{
	char *end;

	errno = 0;
	*out = strtol(arg, &end, base);
	/* strtol takes leading blanks and signs; a number here is digits only (a '-' only for -1). */
	if (errno || end == arg || *end || *out < min || *out > max || !(isdigit((unsigned char)arg[0]) ||
	    (arg[0] == '-' && min < 0 && isdigit((unsigned char)arg[1]))))
		return usage_error(cmd, "%s: '%s' is not a number in %ld..%ld", opt, arg, min, max);
	return 0;
}

/* --type: a comma-separated list of kinds (segment, lease, client) and
 * event names (shmbuf_event_name()), added to *types as bits 1u << type. */
static int parse_event_types(const char *cmd, const char *arg, uint32_t *types)
{
	static const struct {
		const char *kind;
		int first, last;
	} kinds[] = {
		{ "segment", SHMBUF_EVENT_SEGMENT_CREATED, SHMBUF_EVENT_SEGMENT_FREED },
		{ "lease", SHMBUF_EVENT_LEASE_ACQUIRED, SHMBUF_EVENT_LEASE_CANCELLED },
		{ "client", SHMBUF_EVENT_CLIENT_CONNECTED, SHMBUF_EVENT_CLIENT_DISCONNECTED },
	};
	const char *p = arg;

	for (;;) {
		size_t n = strcspn(p, ",");
		bool found = false;

		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]) && !found; k++) {
			if (strlen(kinds[k].kind) == n && strncmp(p, kinds[k].kind, n) == 0) {
				for (int t = kinds[k].first; t <= kinds[k].last; t++)
					*types |= 1u << t;
				found = true;
			}
		}
		for (int t = SHMBUF_EVENT_SEGMENT_CREATED; t <= SHMBUF_EVENT_CLIENT_DISCONNECTED && !found; t++) {
			const char *name = shmbuf_event_name(t);

			if (strlen(name) == n && strncmp(p, name, n) == 0) {
				*types |= 1u << t;
				found = true;
			}
		}
		if (!found)
			return usage_error(cmd,
					   "--type: '%.*s' is not an event type (segment, lease, client, or one of "
					   "segment-created, ..., client-disconnected; see shmbufctl(1))",
					   (int)n, p);
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

/* --mode: octal permission bits. Returns 0 or an exit status. */
static int parse_mode_opt(const struct command *cmd, struct args *a, const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 8);
	if (errno || end == arg || *end || v < 0 || v > 0777 || !isdigit((unsigned char)arg[0]))
		return usage_error(cmd->name, "--mode: '%s' is not an octal mode (0 to 0777)", arg);
	a->mode = (unsigned)v;
	a->has_mode = true;
	return 0;
}

/* --for: seconds, fractions allowed. Returns 0 or an exit status. */
static int parse_for_opt(const struct command *cmd, struct args *a, const char *arg)
{
	char *end;

	errno = 0;
	a->for_s = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(a->for_s) || a->for_s < 0 || a->for_s > 1e9)
		return usage_error(cmd->name, "--for: '%s' is not a number of seconds", arg);
	a->has_for = true;
	return 0;
}

/* Options that take a number. Returns 0, an exit status, or -1 if val is not one of them. */
static int apply_number_opt(const struct command *cmd, struct args *a, int val, const char *arg)
{
	long v;
	int r;

	switch (val) {
	case 'm':
		return parse_mode_opt(cmd, a, arg);
	case 'o':
		return parse_size_opt(cmd->name, "--offset", arg, &a->offset);
	case 'l':
		a->has_length = true;
		return parse_size_opt(cmd->name, "--length", arg, &a->length);
	case 256 + 6:
		r = parse_long_opt(cmd->name, "--fill", arg, 0, 0, 255, &v);
		a->fill = (uint8_t)v;
		a->has_fill = true;
		return r;
	case 256 + 7:
		r = parse_long_opt(cmd->name, "--wait", arg, 10, -1, INT_MAX, &v);
		a->wait_ms = (int)v;
		a->has_wait = true;
		return r;
	case 256 + 8:
		return parse_for_opt(cmd, a, arg);
	case 256 + 15:
		a->wait_newer = true;
		if (!arg)
			return 0;
		a->has_newer_after = true;
		r = parse_long_opt(cmd->name, "--wait-newer", arg, 10, 0, LONG_MAX, &v);
		a->newer_after = (uint64_t)v;
		return r;
	}
	return -1;
}

/* Apply option val (from getopt_long) to a. Returns 0 or an exit status. */
static int apply_opt(const struct command *cmd, struct args *a, int val, const char *arg)
{
	int r = apply_number_opt(cmd, a, val, arg);

	if (r >= 0)
		return r;
	switch (val) {
	case 'j':
		a->json = true;
		return 0;
	case 'x':
		a->hex = true;
		return 0;
	case 256 + 5:
		a->raw = true;
		return 0;
	case 'r':
		a->read = true;
		return 0;
	case 256 + 13:
		a->segment = arg;
		return 0;
	case 't':
		return parse_event_types(cmd->name, arg, &a->event_types);
	case 'w':
		a->write = true;
		return 0;
	case 256 + 16:
		a->sealed = true;
		return 0;
	}
	return usage_error(cmd->name, "unexpected option");
}

/* Checks that involve more than one option. */
static int check_args(const struct command *cmd, const struct args *a)
{
	if (a->hex && a->raw)
		return usage_error(cmd->name, "--hex and --raw exclude each other");
	if (cmd->run == cmd_hold && a->read == a->write)
		return usage_error(cmd->name, "give exactly one of --read and --write");
	if (cmd->run == cmd_write && a->has_length && a->length == 0)
		return usage_error(cmd->name, "--length must be at least 1");
	return 0;
}

static int run_command(const struct command *cmd, int argc, char **argv, const char *socket_opt)
{
	struct option lopts[N_OPTS + 1];
	char sopts[2 * N_OPTS + 2], path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct args a = { .cmd = cmd->name };
	size_t nl = 0, ns = 0;
	int opt, r;

	/* Only this command's options: any other is a usage error, by getopt. */
	sopts[ns++] = ':'; /* a missing argument comes back as ':', not '?' */
	for (size_t i = 0; i < N_OPTS; i++) {
		if (!(opt_defs[i].id & (cmd->opts | OPT_HELP | OPT_SOCKET)))
			continue;
		lopts[nl++] = opt_defs[i].lo;
		if (opt_defs[i].lo.val < 256) {
			sopts[ns++] = (char)opt_defs[i].lo.val;
			if (opt_defs[i].lo.has_arg == required_argument)
				sopts[ns++] = ':';
		}
	}
	lopts[nl] = (struct option){ 0 };
	sopts[ns] = '\0';

	optind = 0; /* glibc: start over, on this command's arguments */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, sopts, lopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			command_help(cmd);
			return EXIT_OK;
		case 's':
			socket_opt = optarg;
			break;
		case ':':
			return usage_error(cmd->name, "option '%s' needs an argument", argv[optind - 1]);
		case '?':
			if (optopt)
				return usage_error(cmd->name, "unknown option '-%c'", optopt);
			return usage_error(cmd->name, "unknown option '%s'", argv[optind - 1]);
		default:
			r = apply_opt(cmd, &a, opt, optarg);
			if (r)
				return r;
		}
	}
	a.pos = argv + optind;
	a.npos = argc - optind;
	if (a.npos < cmd->min_args)
		return usage_error(cmd->name, "missing argument (usage: shmbufctl %s %s)", cmd->name, cmd->usage);
	if (a.npos > cmd->max_args)
		return usage_error(cmd->name, "unexpected argument '%s'", a.pos[cmd->max_args]);
	r = check_args(cmd, &a);
	if (r)
		return r;
	if (socket_opt && !*socket_opt)
		return usage_error(cmd->name, "--socket: the path is empty");
	if (resolve_socket(socket_opt, path, sizeof(path)) < 0) {
		fprintf(stderr, "shmbufctl: socket path too long: %s\n", socket_opt ? socket_opt : "(from the environment)");
		return EXIT_USAGE;
	}
	a.socket_path = path;
	a.socket_is_default = !socket_opt && !(getenv("SHMBUF_SOCKET") && *getenv("SHMBUF_SOCKET"));
	a.may_wait = cmd->run == cmd_hold || cmd->run == cmd_watch || a.has_wait || a.wait_newer;
	return cmd->run(&a);
}

/* As coreutils does: output that could not be written (a full disk, a closed
 * pipe's reader gone with SIGPIPE ignored) is a failure, whatever the command
 * itself thought. */
static void close_stdout(void)
{
	if (fclose(stdout) != 0) {
		fprintf(stderr, "shmbufctl: cannot write the output: %s\n", strerror(errno));
		_exit(EXIT_FAILED);
	}
}

int main(int argc, char **argv)
{
	/* hold and watch report the daemon going away (exit 3) rather than wait for it to
	 * come back; a caller who wants the library's reconnecting sets it explicitly. */
	setenv("SHMBUF_RECONNECT", "0", 0);
	static const struct option lopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_opt = NULL;
	int opt;

	atexit(close_stdout);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:s:hV", lopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_opt = optarg;
			break;
		case 'h':
			main_usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("shmbufctl %s (libshmbuf %s)\n", SHMBUF_VERSION_STRING, shmbuf_version());
			return EXIT_OK;
		case ':':
			return usage_error(NULL, "option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt)
				return usage_error(NULL, "unknown option '-%c'", optopt);
			return usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error(NULL, "missing command");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const struct command *cmd = &commands[i];

		if (strcmp(argv[optind], cmd->name) == 0 || (cmd->alias && strcmp(argv[optind], cmd->alias) == 0))
			return run_command(cmd, argc - optind, argv + optind, socket_opt);
	}
	if (strcmp(argv[optind], "help") == 0) {
		main_usage(stdout);
		return EXIT_OK;
	}
	return usage_error(NULL, "unknown command '%s'", argv[optind]);
}
