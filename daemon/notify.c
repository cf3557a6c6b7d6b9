/* SPDX-License-Identifier: MIT */
/* notify.c: systemd service protocol: readiness, status line, watchdog, stopping. */
#define _GNU_SOURCE
#include "notify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "server.h"
#include "size.h"

/* How often the status line is refreshed when nothing asks for faster (watchdog). */
#define STATUS_PERIOD_MS 2000

#ifdef HAVE_LIBSYSTEMD
static void format_status(const struct server *srv, char *buf, size_t cap)
{
	char used[32], limit[32];

	size_format(srv->quota.bytes, used, sizeof(used));
	size_format(srv->cfg.limits.max_bytes, limit, sizeof(limit));
	snprintf(buf, cap, "%u segments, %s of %s, %u clients", srv->quota.n_segments, used, limit, srv->quota.n_conns);
	/* Sizes put back after a client changed them through a kept fd: worth a look. */
	if (srv->sizewatch.restores) {
		size_t len = strlen(buf);

		size_format(srv->sizewatch.grown_bytes, used, sizeof(used));
		snprintf(buf + len, cap - len, "; %llu sizes restored (%s grown)",
			 (unsigned long long)srv->sizewatch.restores, used);
	}
}

static void on_tick(uv_timer_t *t)
{
	struct notifier *n = t->data;
	char status[sizeof(n->last_status)];

	format_status(n->srv, status, sizeof(status));
	if (n->watchdog_usec)
		sd_notify(0, "WATCHDOG=1");
	if (strcmp(status, n->last_status) != 0) {
		sd_notifyf(0, "STATUS=%s", status);
		memcpy(n->last_status, status, sizeof(status));
	}
}
#endif

void notify_start(struct notifier *n, struct server *srv)
{
	memset(n, 0, sizeof(*n));
	n->srv = srv;
#ifdef HAVE_LIBSYSTEMD
	const char *sock = getenv("NOTIFY_SOCKET");
	uint64_t period = STATUS_PERIOD_MS;

	if (!sock || !*sock)
		return;
	n->is_active = true;
	if (sd_watchdog_enabled(0, &n->watchdog_usec) > 0) {
		/* Ping at a third of the interval: a busy loop iteration must not make us late. */
		period = n->watchdog_usec / 3000;
		if (period == 0)
			period = 1;
		if (period > STATUS_PERIOD_MS)
			period = STATUS_PERIOD_MS;
		log_info("watchdog enabled: %" PRIu64 " ms, pinging every %" PRIu64 " ms", n->watchdog_usec / 1000,
			 period);
	} else {
		n->watchdog_usec = 0;
	}
	format_status(srv, n->last_status, sizeof(n->last_status));
	sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%d", n->last_status, (int)getpid());
	uv_timer_init(srv->loop, &n->timer);
	n->timer.data = n;
	uv_timer_start(&n->timer, on_tick, period, period);
	uv_unref((uv_handle_t *)&n->timer); /* never the reason the loop keeps running */
#else
	(void)srv;
#endif
}

void notify_stop(struct notifier *n)
{
#ifdef HAVE_LIBSYSTEMD
	if (!n->is_active)
		return;
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	uv_close((uv_handle_t *)&n->timer, NULL);
	n->is_active = false;
#else
	(void)n;
#endif
}
