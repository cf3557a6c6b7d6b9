/* SPDX-License-Identifier: MIT */
/* notify.h: systemd service protocol: readiness, status line, watchdog, stopping.
 * Every function is a no-op when shmbufd was built without libsystemd or not
 * started by systemd (no $NOTIFY_SOCKET). */
#ifndef SHMBUFD_NOTIFY_H
#define SHMBUFD_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct server;

/* Owned by main(), which outlives the loop run. */
struct notifier {
	struct server *srv;
	uv_timer_t timer;      /* status refresh and watchdog pings */
	bool is_active;        /* $NOTIFY_SOCKET was set */
	uint64_t watchdog_usec; /* 0: no watchdog */
	char last_status[160];
};

/* Send READY=1 and the first STATUS=, and start the refresh/watchdog timer. */
void notify_start(struct notifier *n, struct server *srv);
/* Send STOPPING=1 and stop the timer (closing its handle). */
void notify_stop(struct notifier *n);

#endif
