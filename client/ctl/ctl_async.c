/* SPDX-License-Identifier: MIT */
/* ctl_async.c: shmbufctl's waits through libshmbuf's asynchronous API: a poll on the
 * client's descriptor together with signals and a deadline, as an event loop would. */
#define _GNU_SOURCE
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctl_wait(shmbuf_client *c, const sigset_t *set, double seconds, bool once)
{
	int64_t end = seconds < 0 ? -1 : mono_ms() + (int64_t)(seconds * 1000.0);
	struct pollfd p[2] = { { .fd = shmbuf_get_fd(c), .events = POLLIN }, { .fd = -1, .events = POLLIN } };
	int r = 0;

	if (p[0].fd < 0)
		return p[0].fd;
	if (set) {
		p[1].fd = signalfd(-1, set, SFD_CLOEXEC);
		if (p[1].fd < 0)
			return -errno;
	}
	for (;;) {
		int64_t left = end < 0 ? -1 : end - mono_ms();

		if (end >= 0 && left <= 0)
			break;
		if (poll(p, 2, left > INT32_MAX ? INT32_MAX : (int)left) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (p[1].revents & POLLIN) {
			r = 1;
			break;
		}
		if (p[0].revents) {
			r = shmbuf_dispatch(c);
			if (r < 0)
				break;
			r = 0;
			if (once) {
				r = 2;
				break;
			}
		}
	}
	if (p[1].fd >= 0)
		close(p[1].fd);
	return r;
}

struct acquired {
	bool is_done;
	int result;
	shmbuf_view view;
};

static void on_acquired(shmbuf_client *c, int result, shmbuf_view *v, void *userdata)
{
	struct acquired *a = userdata;

	(void)c;
	a->is_done = true;
	a->result = result;
	if (v)
		a->view = *v;
}

int ctl_acquire(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length, unsigned flags,
		int timeout_ms, shmbuf_view *out)
{
	struct pollfd p = { .fd = shmbuf_get_fd(c), .events = POLLIN };
	struct acquired a = { 0 };
	int r;

	if (p.fd < 0)
		return p.fd;
	r = shmbuf_acquire_async(c, name, offset, length, flags, timeout_ms, on_acquired, &a, NULL);
	while (r == 0 && !a.is_done) {
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return -errno;
		r = shmbuf_dispatch(c);
		r = r < 0 && !a.is_done ? r : 0;
	}
	if (r < 0)
		return r;
	if (a.result == 0)
		*out = a.view;
	return a.result;
}
