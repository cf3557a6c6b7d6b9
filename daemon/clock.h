/* SPDX-License-Identifier: MIT */
/* clock.h: the two clocks the daemon reads, in nanoseconds. */
#ifndef SHMBUFD_CLOCK_H
#define SHMBUFD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC: ages, deadlines, uptime. */
static inline uint64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_REALTIME: timestamps shown to people. */
static inline uint64_t clock_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
