/* SPDX-License-Identifier: MIT */
/* acquire_loop.c: the C side of bench.py's acquire + release figure: the same loop as the
 * Python one, in C, against the same daemon and segment. Prints mean nanoseconds per pair. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "shmbuf.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	shmbuf_client *c;
	shmbuf_view v;
	long iters;
	double t0 = 0;
	int r;

	if (argc != 5) {
		fprintf(stderr, "usage: %s SOCKET NAME LENGTH ITERATIONS\n", argv[0]);
		return 2;
	}
	iters = strtol(argv[4], NULL, 10);
	r = shmbuf_connect(argv[1], &c);
	if (r < 0) {
		fprintf(stderr, "connect: %s\n", shmbuf_strerror(r));
		return 1;
	}
	/* One pair first, as the Python side's warm-up: the segment is then "already used". */
	for (long i = -1; i < iters; i++) {
		if (i == 0)
			t0 = now_ns();
		r = shmbuf_acquire(c, argv[2], 0, strtoull(argv[3], NULL, 10), SHMBUF_READ, 0, &v, sizeof(v));
		if (r == 0)
			r = shmbuf_release(c, &v, sizeof(v));
		if (r < 0) {
			fprintf(stderr, "acquire/release: %s %s\n", shmbuf_strerror(r), shmbuf_last_error_detail());
			return 1;
		}
	}
	printf("%.1f\n", (now_ns() - t0) / (double)iters);
	shmbuf_disconnect(c);
	return 0;
}
