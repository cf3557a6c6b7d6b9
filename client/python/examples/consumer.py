# SPDX-License-Identifier: MIT
"""consumer.py: the Python half of the README's two-process example: reads the frame that
producer.c wrote, as a numpy array over the shared memory itself (no copy)."""
import numpy as np

import shmbuf

with shmbuf.Client() as c:  # $SHMBUF_SOCKET, else the default socket, as in C
    with c.acquire("demo/frame", timeout=5) as v:  # a read lease: shared, read-only
        frame = np.frombuffer(v, dtype=np.float32).reshape(480, 640)
        print("frame", frame.shape, "row 2:", frame[2, :3], "mean %.3f" % frame.mean())
        try:
            frame[0, 0] = 1.0
        except ValueError as e:  # the kernel maps it read-only and numpy knows it
            print("write refused:", e)
        del frame  # the lease can end only when no array uses it
    c.destroy("demo/frame")
