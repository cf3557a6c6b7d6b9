/* SPDX-License-Identifier: MIT */
/* main.c: shmbufd's command line, process set-up, and the run loop. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "daemon.h"
#include "size.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: shmbufd [OPTION]...\n"
		"Serve shared-memory segments and range leases to local clients.\n"
		"\n"
		"  -s, --socket PATH         listen here (default: $SHMBUF_SOCKET, else\n"
		"                            /run/shmbuf/shmbufd.sock for root,\n"
		"                            $XDG_RUNTIME_DIR/shmbuf/shmbufd.sock for others)\n"
		"      --socket-mode MODE    permission bits of the socket (default 0660)\n"
		"  -b, --max-bytes SIZE      total bytes of all segments (default: half of /dev/shm)\n"
		"      --max-segments N      segments (default 4096)\n"
		"      --max-connections N   clients connected at once (default 1024)\n"
		"      --max-user-connections N\n"
		"                            clients of one uid other than root connected at\n"
		"                            once (default: half of --max-connections)\n"
		"      --max-leases N        leases held or waited for per client (default 4096)\n"
		"      --user-max-bytes SIZE bytes of the segments one user owns (default: a\n"
		"                            quarter of --max-bytes); root and shmbufd's uid\n"
		"                            are exempt from the --user-* quotas\n"
		"      --user-max-segments N segments one user owns (default: a quarter of\n"
		"                            --max-segments)\n"
		"      --user-max-leases N   leases one user holds or waits for over all its\n"
		"                            clients (default: --max-leases)\n"
		"      --max-segment-leases N\n"
		"                            leases held or waited for per segment (default 1024)\n"
		"      --max-message SIZE    largest request accepted (default 4096, 512..65536)\n"
		"      --max-queue N         replies queued for a slow client before it is\n"
		"                            disconnected (default 256)\n"
		"      --handshake-timeout S seconds a new client has to send HELLO (default 10)\n"
		"      --no-prealloc         do not reserve segment memory at create/resize\n"
		"      --state-dir DIR       where the record of segments is kept, so that a\n"
		"                            restarted daemon adopts them (default: the\n"
		"                            directory 'state' beside the socket)\n"
		"      --fresh               start empty: remove the segments a previous run left\n"
		"      --grace S             seconds leases held before a restart wait for their\n"
		"                            holders to reclaim them (default 10; 0.5 works)\n"
		"      --fd-store            also hand segment fds to systemd's fd store\n"
		"                            (FileDescriptorStoreMax=; on when $FDSTORE is set)\n"
		"  -l, --log-level LEVEL     error, warning, notice (default), info or debug\n"
		"  -h, --help                show this help\n"
		"  -V, --version             show the version\n"
		"\n"
		"SIZE takes K, M, G, T suffixes (powers of 1024), e.g. 64M.\n"
		"Every option can also be set with an environment variable SHMBUFD_<OPTION>,\n"
		"e.g. SHMBUFD_MAX_BYTES=8G; options on the command line win.\n");
}

enum { OPT_SOCKET_MODE = 256, OPT_MAX_SEGMENTS, OPT_MAX_CONNECTIONS, OPT_MAX_USER_CONNECTIONS, OPT_MAX_LEASES, OPT_MAX_SEGMENT_LEASES,
       OPT_MAX_MESSAGE,
       OPT_MAX_QUEUE, OPT_HANDSHAKE_TIMEOUT, OPT_NO_PREALLOC, OPT_USER_MAX_BYTES, OPT_USER_MAX_SEGMENTS,
       OPT_USER_MAX_LEASES, OPT_STATE_DIR, OPT_FRESH, OPT_FD_STORE, OPT_GRACE };

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
	{ "max-bytes", required_argument, NULL, 'b' },
	{ "max-segments", required_argument, NULL, OPT_MAX_SEGMENTS },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
	{ "max-user-connections", required_argument, NULL, OPT_MAX_USER_CONNECTIONS },
	{ "max-leases", required_argument, NULL, OPT_MAX_LEASES },
	{ "max-segment-leases", required_argument, NULL, OPT_MAX_SEGMENT_LEASES },
	{ "user-max-bytes", required_argument, NULL, OPT_USER_MAX_BYTES },
	{ "user-max-segments", required_argument, NULL, OPT_USER_MAX_SEGMENTS },
	{ "user-max-leases", required_argument, NULL, OPT_USER_MAX_LEASES },
	{ "max-message", required_argument, NULL, OPT_MAX_MESSAGE },
	{ "max-queue", required_argument, NULL, OPT_MAX_QUEUE },
	{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
	{ "no-prealloc", no_argument, NULL, OPT_NO_PREALLOC },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "fresh", no_argument, NULL, OPT_FRESH },
	{ "fd-store", no_argument, NULL, OPT_FD_STORE },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "log-level", required_argument, NULL, 'l' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int parse_count(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	int r = size_parse(arg, out);

	if (r < 0 || *out < min || *out > max) {
		fprintf(stderr, "shmbufd: --%s: '%s' is not a number in %llu..%llu\n", opt, arg,
			(unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	return 0;
}

/* --grace: seconds, a fraction allowed, at most an hour. */
static int parse_grace(const char *arg, uint64_t *ms)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (errno || end == arg || *end || !(s >= 0 && s <= 3600)) {
		fprintf(stderr, "shmbufd: --grace: '%s' is not a number of seconds in 0..3600\n", arg);
		return -EINVAL;
	}
	*ms = (uint64_t)(s * 1000 + 0.5);
	return 0;
}

/* 1, 0, or -EINVAL: the boolean spellings systemd accepts in unit and environment files. */
static int parse_bool(const char *s)
{
	static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
	static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -EINVAL;
}

/* The limit a count option sets. */
static uint32_t *count_field(struct server_limits *l, int id)
{
	switch (id) {
	case OPT_MAX_SEGMENTS:
		return &l->max_segments;
	case OPT_MAX_CONNECTIONS:
		return &l->max_connections;
	case OPT_MAX_USER_CONNECTIONS:
		return &l->max_user_connections;
	case OPT_MAX_LEASES:
		return &l->max_leases;
	case OPT_MAX_SEGMENT_LEASES:
		return &l->max_segment_leases;
	case OPT_HANDSHAKE_TIMEOUT:
		return &l->handshake_timeout_s;
	case OPT_USER_MAX_SEGMENTS:
		return &l->user_max_segments;
	case OPT_USER_MAX_LEASES:
		return &l->user_max_leases;
	}
	return &l->max_queue;
}

/* --socket-mode: octal permission bits. */
static int parse_mode(const char *arg, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 8);
	if (errno || *end || !*arg || v > 0777) {
		fprintf(stderr, "shmbufd: --socket-mode: '%s' is not an octal mode\n", arg);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

/* A flag. On the command line arg is NULL. From the environment it is a boolean spelled as
 * systemd spells them; SHMBUFD_NO_PREALLOC=false must not mean "yes". */
static int apply_flag(int id, const char *name, const char *arg, struct server_config *cfg)
{
	int on = arg ? parse_bool(arg) : 1;

	if (on < 0) {
		fprintf(stderr, "shmbufd: --%s: '%s' is not 1, yes, true, on, 0, no, false or off\n", name, arg);
		return -EINVAL;
	}
	if (id == OPT_NO_PREALLOC)
		cfg->prealloc = !on;
	else if (id == OPT_FRESH)
		cfg->fresh = on;
	else
		cfg->fd_store = on;
	return 0;
}

/* Apply one option; shared by the environment pass and the command-line pass. */
static int apply_option(int id, const char *name, const char *arg, struct server_config *cfg, int *log_level)
{
	uint64_t v;

	switch (id) {
	case 's':
		cfg->socket_path = arg;
		return 0;
	case OPT_SOCKET_MODE:
		return parse_mode(arg, &cfg->socket_mode);
	case 'b':
		if (parse_count(name, arg, 1, UINT64_MAX, &cfg->limits.max_bytes) < 0)
			return -EINVAL;
		return 0;
	case OPT_USER_MAX_BYTES:
		if (parse_count(name, arg, 1, UINT64_MAX, &cfg->limits.user_max_bytes) < 0)
			return -EINVAL;
		return 0;
	case OPT_MAX_SEGMENTS:
	case OPT_MAX_CONNECTIONS:
	case OPT_MAX_USER_CONNECTIONS:
	case OPT_MAX_LEASES:
	case OPT_MAX_SEGMENT_LEASES:
	case OPT_MAX_QUEUE:
	case OPT_USER_MAX_SEGMENTS:
	case OPT_USER_MAX_LEASES:
	case OPT_HANDSHAKE_TIMEOUT:
		if (parse_count(name, arg, 1, id == OPT_HANDSHAKE_TIMEOUT ? 3600 : 1u << 24, &v) < 0)
			return -EINVAL;
		*count_field(&cfg->limits, id) = (uint32_t)v;
		return 0;
	case OPT_MAX_MESSAGE:
		if (parse_count(name, arg, 512, PROTO_MAX_MESSAGE, &v) < 0)
			return -EINVAL;
		cfg->limits.max_message = (uint32_t)v;
		return 0;
	case OPT_NO_PREALLOC:
	case OPT_FRESH:
	case OPT_FD_STORE:
		return apply_flag(id, name, arg, cfg);
	case OPT_STATE_DIR:
		cfg->state_dir = arg;
		return 0;
	case OPT_GRACE:
		return parse_grace(arg, &cfg->grace_ms);
	case 'l':
		*log_level = log_level_parse(arg);
		if (*log_level < 0) {
			fprintf(stderr, "shmbufd: --log-level: '%s' is not error, warning, notice, info or debug\n",
				arg);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

/* SHMBUFD_MAX_BYTES=8G and friends: how the systemd unit's EnvironmentFile configures us. */
static int apply_environment(struct server_config *cfg, int *log_level)
{
	for (const struct option *o = long_opts; o->name; o++) {
		char var[64];
		const char *val;

		if (o->val == 'h' || o->val == 'V')
			continue;
		snprintf(var, sizeof(var), "SHMBUFD_%s", o->name);
		for (char *p = var; *p; p++)
			*p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
		val = getenv(var);
		if (!val || !*val)
			continue;
		if (apply_option(o->val, o->name, val, cfg, log_level) < 0) {
			fprintf(stderr, "shmbufd: (from the environment variable %s)\n", var);
			return -EINVAL;
		}
	}
	return 0;
}

static uint64_t default_max_bytes(void)
{
	struct statvfs vfs;

	if (statvfs("/dev/shm", &vfs) == 0 && vfs.f_blocks > 0)
		return (uint64_t)vfs.f_blocks * vfs.f_frsize / 2;
	return 1ull << 30;
}

/* Every segment costs two fds: take the hard limit rather than the 1024 soft default. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Per-user limits left unset: below the daemon-wide ones, so one user cannot exhaust them. */
static void user_defaults(struct server_limits *l)
{
	if (l->max_user_connections == 0)
		l->max_user_connections = l->max_connections > 1 ? l->max_connections / 2 : 1;
	if (l->user_max_bytes == 0)
		l->user_max_bytes = l->max_bytes > 4 ? l->max_bytes / 4 : 1;
	if (l->user_max_segments == 0)
		l->user_max_segments = l->max_segments > 4 ? l->max_segments / 4 : 1;
	if (l->user_max_leases == 0)
		l->user_max_leases = l->max_leases;
}

/* The command line over the environment over the defaults. Returns -1 to go
 * on, or the exit status (after --help, --version or a bad option). */
static int parse_args(int argc, char **argv, struct server_config *cfg, int *log_level)
{
	int opt;

	if (apply_environment(cfg, log_level) < 0)
		return 2;
	while ((opt = getopt_long(argc, argv, "s:b:l:hV", long_opts, NULL)) != -1) {
		const char *name = "?";

		for (const struct option *o = long_opts; o->name; o++)
			if (o->val == opt)
				name = o->name;
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("shmbufd %s (protocol %d)\n", SHMBUF_VERSION_STR, PROTO_VERSION);
			return 0;
		case '?':
			usage(stderr);
			return 2;
		default:
			if (apply_option(opt, name, optarg, cfg, log_level) < 0)
				return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "shmbufd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	user_defaults(&cfg->limits);
	return -1;
}

int main(int argc, char **argv)
{
	struct server_config cfg = {
		.socket_mode = 0660,
		.prealloc = true,
		.grace_ms = 10000,
		.limits = {
			.max_bytes = 0,
			.max_segments = 4096,
			.max_connections = 1024,
			.max_user_connections = 0, /* 0: half of max_connections, once that is known */
			.max_leases = 4096,
			.max_segment_leases = 1024,
			.max_message = 4096,
			.max_queue = 256,
			.handshake_timeout_s = 10,
		},
	};
	int log_level = LOG_NOTICE, r;
	struct server srv;
	struct notifier notifier;
	uv_loop_t loop;

	cfg.limits.max_bytes = default_max_bytes();
	r = parse_args(argc, argv, &cfg, &log_level);
	if (r >= 0)
		return r;
	log_init(log_level);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if (uv_loop_init(&loop) < 0)
		return 1;
	r = daemon_init(&srv, &loop, &cfg);
	if (r < 0) {
		log_err("cannot start: %s", strerror(-r));
		uv_loop_close(&loop);
		return 1;
	}
	notify_start(&notifier, &srv);
	uv_run(&loop, UV_RUN_DEFAULT);
	notify_stop(&notifier);
	daemon_deinit(&srv);
	uv_run(&loop, UV_RUN_DEFAULT); /* let close callbacks free connections */
	r = uv_loop_close(&loop);
	if (r < 0)
		log_warn("event loop closed with handles still open: %s", uv_strerror(r));
	log_notice("stopped");
	return 0;
}
