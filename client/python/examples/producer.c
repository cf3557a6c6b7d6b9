/* SPDX-License-Identifier: MIT */
/* producer.c: the C half of the README's two-process example. Writes a 480x640 float32
 * frame into the segment "demo/frame" (created if need be) under a write lease, then exits:
 * the segment lives on in shmbufd for the Python consumer (consumer.py).
 * Build: cc producer.c $(pkg-config --cflags --libs shmbuf) -o producer */
#include <errno.h>
#include <shmbuf.h>
#include <stdio.h>

#define ROWS 480
#define COLS 640

int main(void)
{
	shmbuf_client *c;
	shmbuf_view v;
	int r = shmbuf_connect(NULL, &c); /* $SHMBUF_SOCKET, else the default socket */

	if (r < 0) {
		fprintf(stderr, "producer: connect: %s\n", shmbuf_strerror(r));
		return 1;
	}
	r = shmbuf_create(c, "demo/frame", ROWS * COLS * sizeof(float), 0600);
	if (r == 0 || r == -EEXIST)
		r = shmbuf_acquire(c, "demo/frame", 0, 0, SHMBUF_WRITE, -1, &v, sizeof(v));
	if (r == 0) {
		float *px = v.data; /* straight into shared memory */

		for (int y = 0; y < ROWS; y++)
			for (int x = 0; x < COLS; x++)
				px[y * COLS + x] = (float)y + (float)x / 1000.0f;
		r = shmbuf_release(c, &v, sizeof(v));
	}
	if (r < 0)
		fprintf(stderr, "producer: %s %s\n", shmbuf_strerror(r), shmbuf_last_error_detail());
	shmbuf_disconnect(c);
	return r < 0;
}
