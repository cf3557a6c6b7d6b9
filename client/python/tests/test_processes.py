# SPDX-License-Identifier: MIT
"""shmbuf across processes: numpy arrays shared with no copy, fork(), and interpreter exit."""
import errno
import gc
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import shmbuf
from conftest import MODULE_DIR, run_python

N = 1 << 20  # float64 elements: 8 MiB


def spawn_python(code, *args):
    """A child interpreter running code, talking over stdin/stdout lines."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (MODULE_DIR, env.get("PYTHONPATH")) if p)
    return subprocess.Popen([sys.executable, "-X", "dev", "-c", textwrap.dedent(code), *args], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ask(p, line):
    p.stdin.write(line + "\n")
    p.stdin.flush()
    answer = p.stdout.readline().strip()
    assert answer, "child said nothing; stderr:\n" + p.stderr.read()
    return answer


CONSUMER = """
    import sys, numpy as np, shmbuf
    c = shmbuf.Client(sys.argv[1])
    for cmd in sys.stdin:
        cmd = cmd.split()
        if cmd[0] == "read":      # hold a read lease; report what the array sees
            v = c.acquire("arr", timeout=5)
            a = np.frombuffer(v, dtype=np.float64)
            print(a.sum(), a[12345], a.flags.writeable, a.flags.owndata, flush=True)
        elif cmd[0] == "poke":    # writing through a read view's array must fail
            try:
                a[0] = 1.0
                print("written", flush=True)
            except ValueError as e:
                print("refused", "read-only" in str(e), flush=True)
        elif cmd[0] == "drop":
            del a
            v.release()
            print("released", flush=True)
        elif cmd[0] == "write":   # take a write lease and scale the array in place
            with c.acquire("arr", write=True, timeout=5) as w:
                b = np.frombuffer(w, dtype=np.float64)
                b *= float(cmd[1])
                del b
            print("scaled", flush=True)
    c.close()
"""


def test_two_processes_share_a_numpy_array(client):
    client.create("arr", N * 8)
    with client.acquire("arr", write=True) as w:
        a = np.frombuffer(w, dtype=np.float64)
        a[:] = np.arange(N, dtype=np.float64)  # straight into shared memory
        del a
    total = float(np.arange(N, dtype=np.float64).sum())
    p = spawn_python(CONSUMER, client.status().socket_path)
    try:
        s, x, writeable, owndata = ask(p, "read").split()
        assert (float(s), float(x), writeable, owndata) == (total, 12345.0, "False", "False")
        # The consumer's read lease excludes writers: ours waits, or fails at once.
        with pytest.raises(BlockingIOError):
            client.acquire("arr", write=True, timeout=0)
        assert ask(p, "poke") == "refused True"
        assert ask(p, "drop") == "released"
        # The other way: the child writes in place, we see it with no copy on either side.
        assert ask(p, "write 2") == "scaled"
        with client.acquire("arr") as r:
            a = np.frombuffer(r, dtype=np.float64)
            assert a[12345] == 2 * 12345.0 and a.sum() == 2 * total
            del a
        # And our writes are what the child's next array sees.
        with client.acquire("arr", 8 * 12345, 8, write=True) as w:
            np.frombuffer(w, dtype=np.float64)[0] = -1.0
        s, x, _, _ = ask(p, "read").split()
        assert float(x) == -1.0
        assert ask(p, "drop") == "released"
    finally:
        p.stdin.close()
        assert p.wait(30) == 0, p.stderr.read()
        p.stderr.close()
        p.stdout.close()
    client.destroy("arr")


def test_forked_child_refuses_calls(client):
    client.create("fork", 4096)
    v = client.acquire("fork", write=True)
    memoryview(v)[:4] = b"prnt"
    r, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report and leave without running any cleanup
        code = 0
        try:
            try:
                client.stat("fork")
                code |= 1
            except ConnectionResetError as e:
                code |= 0 if "fork" in str(e) else 2
            try:
                v.release()
                code |= 4
            except ConnectionResetError:
                pass
            code |= 0 if not v.released and bytes(memoryview(v)[:4]) == b"prnt" else 8
            client.close()  # all a child may do with it: drops its copies, not the parent's lease
            code |= 0 if client.closed and v.released else 32
        except BaseException:
            code |= 16
        os.write(wfd, bytes([code]))
        os._exit(0)
    os.close(wfd)
    code = os.read(r, 1)
    os.close(r)
    os.waitpid(pid, 0)
    assert code == b"\0", "child failed checks %r" % code
    # The parent's lease survived the child.
    assert [l.lease_id for l in client.list_leases("fork")] == [v.lease_id]
    v.release()
    client.destroy("fork")


def test_forked_child_connects_its_own_client(client, daemon):
    client.create("own", 4096)
    pid = os.fork()
    if pid == 0:
        try:
            with shmbuf.Client(daemon.path) as c, c.acquire("own", write=True) as w:
                memoryview(w)[:5] = b"child"
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with client.acquire("own", 0, 5) as r:
        assert bytes(r) == b"child"
    client.destroy("own")


EXIT_SCRIPTS = {
    # A view in a module global, its client only referenced by it.
    "global_view": """
        import sys, shmbuf
        v = shmbuf.Client(sys.argv[1]).acquire("held", write=True)
        memoryview(v)[:4] = b"exit"
    """,
    # Client and view both globals, the client defined first (dies in either order).
    "globals_both": """
        import sys, shmbuf
        c = shmbuf.Client(sys.argv[1])
        v = c.acquire("held", 0, 100, write=True)
        w = c.acquire("held", 4000, 96)
    """,
    # A numpy array still exporting the view at exit.
    "exported_array": """
        import sys, numpy, shmbuf
        c = shmbuf.Client(sys.argv[1])
        a = numpy.frombuffer(c.acquire("held", write=True), dtype=numpy.uint8)
        a[:] = 1
    """,
    # Objects in a reference cycle, left for the garbage collector at shutdown.
    "cycle": """
        import sys, shmbuf
        box = [shmbuf.Client(sys.argv[1])]
        box.append(box[0].acquire("held", write=True))
        box.append(box)
    """,
    # The client closed explicitly, the view (released by that) left behind.
    "closed_client": """
        import sys, shmbuf
        c = shmbuf.Client(sys.argv[1])
        v = c.acquire("held", write=True)
        c.close()
    """,
    # A thread still waiting in acquire() (GIL released) when the main thread exits.
    "waiting_thread": """
        import sys, threading, time, shmbuf
        c = shmbuf.Client(sys.argv[1])
        v = c.acquire("held", 0, 10, write=True)
        c2 = shmbuf.Client(sys.argv[1])
        t = threading.Thread(target=lambda: c2.acquire("held", 0, 10, write=True), daemon=True)
        t.start()
        while c.stat("held").waiters == 0:
            time.sleep(0.001)
    """,
    # An exception on the way out.
    "uncaught": """
        import sys, shmbuf
        c = shmbuf.Client(sys.argv[1])
        v = c.acquire("held", write=True)
        raise SystemExit(3)
    """,
}


@pytest.mark.parametrize("case", sorted(EXIT_SCRIPTS))
def test_release_at_interpreter_exit(client, daemon, case):
    client.create("held", 4096)
    r = run_python(textwrap.dedent(EXIT_SCRIPTS[case]), daemon.path, check=False)
    assert r.returncode == (3 if case == "uncaught" else 0), r.stderr
    assert "Fatal Python error" not in r.stderr and "Segmentation" not in r.stderr, r.stderr
    # Views still held are released, each with its warning. (The waiting thread's lambda
    # keeps __main__'s globals alive, so Python frees nothing there: the process exit ends
    # the leases.)
    if case not in ("closed_client", "waiting_thread"):
        assert "ResourceWarning: unreleased shmbuf.View" in r.stderr, r.stderr
    # Nothing of the child's is left: once the daemon has seen its connections close (process
    # exit closes them; the daemon notices asynchronously), its leases have ended.
    deadline = time.monotonic() + 10
    while (len(client.list_clients()) > 1 or client.list_leases()) and time.monotonic() < deadline:
        time.sleep(0.005)
    with client.acquire("held", write=True, timeout=0) as w:
        if case == "global_view":
            assert bytes(w)[:4] == b"exit"
    assert client.list_leases() == [] and len(client.list_clients()) == 1
    client.destroy("held")


def test_readme_example_c_producer_python_consumer(daemon, tmp_path):
    """The README's example: producer.c writes a frame, consumer.py reads it with numpy."""
    cc, inc, lib = (os.environ.get(k) for k in ("SHMBUF_TEST_CC", "SHMBUF_INCLUDE_DIRS", "SHMBUF_STATIC_LIB"))
    if not (cc and inc and lib):
        pytest.skip("SHMBUF_TEST_CC, SHMBUF_INCLUDE_DIRS, SHMBUF_STATIC_LIB unset (run through ctest)")
    examples = os.path.join(os.path.dirname(__file__), "..", "examples")
    producer = str(tmp_path / "producer")
    includes = ["-I" + d for d in inc.split(":") if d]
    cflags = os.environ.get("SHMBUF_TEST_CFLAGS", "").split()  # the sanitizers, when the build has them
    subprocess.run([cc, "-std=gnu11", "-Wall", "-Werror", *cflags, *includes, os.path.join(examples, "producer.c"),
                    lib, "-lpthread", "-o", producer], check=True)
    env = dict(os.environ, SHMBUF_SOCKET=daemon.path)
    subprocess.run([producer], env=env, check=True, timeout=30)
    with open(os.path.join(examples, "consumer.py")) as f:
        r = run_python(f.read(), env={"SHMBUF_SOCKET": daemon.path})
    assert "frame (480, 640) row 2: [2.    2.001 2.002]" in r.stdout, r.stdout
    assert "write refused: assignment destination is read-only" in r.stdout, r.stdout
    assert r.stderr == "", r.stderr
    with shmbuf.Client(daemon.path) as c:
        assert c.list_segments() == []  # the consumer destroyed it


PRODUCER = """
    import struct, sys, shmbuf
    with shmbuf.Client(sys.argv[1]) as c:
        for i in range(1, int(sys.argv[2]) + 1):   # frame i; the last one is the end marker
            with c.acquire("frames", write=True, timeout=10) as w:
                memoryview(w)[:8] = struct.pack("<q", i)
                last = w.generation
    print("done", last, flush=True)
"""


def test_acquire_newer_consumer_sees_each_generation_once(client, daemon):
    """A producer process writes frames; a consumer looping acquire_newer(after=last) sees
    each generation at most once and in increasing order, and frames in order."""
    import struct
    frames = 200
    client.create("frames", 4096)
    assert client.stat("frames").generation == 0
    p = spawn_python(PRODUCER, daemon.path, str(frames))
    try:
        last, seen, values = 0, [], []
        while not values or values[-1] != frames:
            with client.acquire_newer("frames", 0, 8, after=last, timeout=10) as v:
                assert v.generation > last
                last = v.generation
                seen.append(v.generation)
                values.append(struct.unpack("<q", bytes(v))[0])
        # A write view carries the generation before it: its own is counted when it ends.
        assert p.stdout.readline().split() == ["done", str(frames - 1)]
    finally:
        assert p.wait(30) == 0, p.stderr.read()
        p.stdin.close()
        p.stdout.close()
        p.stderr.close()
    assert seen == sorted(set(seen)) and values == sorted(set(values))
    assert seen == values  # frame i was generation i: its write lease was the segment's i-th
    st = client.stat("frames")
    assert st.generation == frames
    assert [s.generation for s in client.list_segments()] == [frames]
    # Nothing new since: timeout 0 is BlockingIOError (EAGAIN), a timeout TimeoutError.
    with pytest.raises(BlockingIOError) as e:
        client.acquire_newer("frames", after=last, timeout=0)
    assert e.value.errno == errno.EAGAIN and e.value.filename == "frames"
    with pytest.raises(TimeoutError):
        client.acquire_newer("frames", after=last, timeout=0.05)
    # after=0 (or any older generation): granted at once.
    with client.acquire_newer("frames", after=0, timeout=0) as v:
        assert v.generation == frames and v.readonly
    client.destroy("frames")
