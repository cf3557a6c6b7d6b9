/* SPDX-License-Identifier: MIT */
/* test_example.c: docs/examples/uv_frames.c, the libuv frame consumer of the documentation, run
 * against a real shmbufd: it must consume its producer's frames to the last and exit 0. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "proc.h"

TestSuite(example, .init = daemon_setup, .fini = daemon_teardown, .timeout = 60);

Test(example, uv_frames_consumes_every_frame_to_the_last)
{
	const char *argv[] = { EXAMPLE_UV_FRAMES_PATH, daemon_socket(), "2000", NULL };
	struct proc p;

	proc_spawn(&p, argv, NULL, NULL, 0);
	cr_assert_eq(proc_finish(&p), 0, "uv_frames: %s", p.e.p);
	cr_expect(strstr(p.o.p, "of 2000 frames, last generation 2000"), "%s", p.o.p);
	proc_free(&p);
	expect_clean_shutdown();
}
