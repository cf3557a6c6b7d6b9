/* SPDX-License-Identifier: MIT */
/* uv_frames.c: a frame consumer that lives in a libuv loop, fed by a producer process, with
 * shmbuf as the only channel between them.
 *
 *   uv_frames [SOCKET [FRAMES]]
 *
 * Creates a 4 KiB segment, forks a producer that writes FRAMES frames into it (each frame's
 * first 8 bytes: its number, 1, 2, ...; one write lease per frame), and consumes them in the
 * parent: a uv_poll watches shmbuf_get_fd(), its callback runs shmbuf_dispatch(), and each
 * frame is taken with shmbuf_acquire_newer_async() after the generation last seen. The
 * consumer may skip frames a fast producer overwrote, never sees one twice, and always sees
 * the last. Exits 0 when it has; tests/integration/test_example.c runs it.
 *
 * Build: cc uv_frames.c $(pkg-config --cflags --libs shmbuf libuv) */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmbuf.h>
#include <uv.h>

#define FRAME_SIZE 4096

struct consumer {
	shmbuf_client *c;
	const char *name;
	uint64_t frames;   /* the producer's last frame */
	uint64_t last_gen; /* generation of the last frame seen */
	uint64_t seen;
	int status;        /* exit status */
	uv_poll_t poll;
};

static void on_frame(shmbuf_client *c, int result, shmbuf_view *view, void *userdata);

/* Ask for the next frame: granted once a write newer than last_gen has ended. */
static int want_next(struct consumer *k)
{
	return shmbuf_acquire_newer_async(k->c, k->name, 0, FRAME_SIZE, SHMBUF_READ, k->last_gen, 10000, on_frame, k,
					  NULL);
}

static void finish(struct consumer *k, int status)
{
	k->status = status;
	uv_poll_stop(&k->poll);
	uv_close((uv_handle_t *)&k->poll, NULL);
}

static void on_frame(shmbuf_client *c, int result, shmbuf_view *view, void *userdata)
{
	struct consumer *k = userdata;
	uint64_t number;
	int r;

	if (result < 0) {
		fprintf(stderr, "uv_frames: waiting for a frame: %s\n", shmbuf_strerror(result));
		finish(k, 1);
		return;
	}
	memcpy(&number, view->data, sizeof(number));
	/* The producer is the only writer: frame n is generation n. */
	if (view->generation <= k->last_gen || number != view->generation) {
		fprintf(stderr, "uv_frames: frame %" PRIu64 " at generation %" PRIu64 " after %" PRIu64 "\n", number,
			view->generation, k->last_gen);
		shmbuf_release(c, view, sizeof(*view));
		finish(k, 1);
		return;
	}
	k->last_gen = view->generation;
	k->seen++;
	shmbuf_release(c, view, sizeof(*view));
	if (number == k->frames) {
		printf("consumed %" PRIu64 " of %" PRIu64 " frames, last generation %" PRIu64 "\n", k->seen, k->frames,
		       k->last_gen);
		finish(k, 0);
		return;
	}
	r = want_next(k);
	if (r < 0) {
		fprintf(stderr, "uv_frames: %s\n", shmbuf_strerror(r));
		finish(k, 1);
	}
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct consumer *k = p->data;
	int r;

	(void)events;
	r = status < 0 ? -EIO : shmbuf_dispatch(k->c);
	if (r < 0 && !uv_is_closing((uv_handle_t *)p)) {
		fprintf(stderr, "uv_frames: dispatch: %s\n", shmbuf_strerror(r));
		finish(k, 1);
	}
}

/* The producer: its own process and connection, one write lease per frame. */
static int produce(const char *sock, const char *name, uint64_t frames)
{
	shmbuf_client *c;
	shmbuf_view v;

	if (shmbuf_connect(sock, &c) < 0)
		return 1;
	for (uint64_t n = 1; n <= frames; n++) {
		if (shmbuf_acquire(c, name, 0, FRAME_SIZE, SHMBUF_WRITE, 10000, &v, sizeof(v)) < 0)
			return 1;
		memset(v.data, (int)(n & 0xff), v.len);
		memcpy(v.data, &n, sizeof(n));
		shmbuf_release(c, &v, sizeof(v));
	}
	shmbuf_disconnect(c);
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = argc > 1 ? argv[1] : NULL;
	struct consumer k = { .frames = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000, .status = 1 };
	char name[64];
	int r, st;
	pid_t pid;

	snprintf(name, sizeof(name), "uv_frames.%d", (int)getpid());
	k.name = name;
	r = shmbuf_connect(sock, &k.c);
	if (r == 0)
		r = shmbuf_create(k.c, name, FRAME_SIZE, 0600);
	if (r < 0) {
		fprintf(stderr, "uv_frames: %s\n", shmbuf_strerror(r));
		return 1;
	}
	pid = fork();
	if (pid == 0)
		_exit(produce(sock, name, k.frames));
	uv_poll_init(uv_default_loop(), &k.poll, shmbuf_get_fd(k.c));
	k.poll.data = &k;
	uv_poll_start(&k.poll, UV_READABLE, on_readable);
	r = want_next(&k);
	if (r < 0)
		finish(&k, 1);
	uv_run(uv_default_loop(), UV_RUN_DEFAULT);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		k.status = 1;
	shmbuf_destroy(k.c, name);
	shmbuf_disconnect(k.c);
	uv_loop_close(uv_default_loop());
	return k.status;
}
