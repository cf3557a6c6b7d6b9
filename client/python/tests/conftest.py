# SPDX-License-Identifier: MIT
"""Fixtures for the shmbuf module's tests: a real shmbufd per test on a private socket.

ctest passes SHMBUF_PYTHON_MODULE_DIR (the built module) and SHMBUFD_PATH (the built daemon).
Each daemon gets its own temporary directory and is awaited through a private NOTIFY_SOCKET
(READY=1), as tests/harness.c does for the C suites; when it stops, every /dev/shm object it
logged must be gone.
"""
import os
import shutil
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile

import pytest

MODULE_DIR = os.environ.get("SHMBUF_PYTHON_MODULE_DIR")
if MODULE_DIR:
    sys.path.insert(0, MODULE_DIR)

SHMBUFD = os.environ.get("SHMBUFD_PATH", "")
READY_TIMEOUT = 10.0


class Daemon:
    """One shmbufd on <dir>/shmbufd.sock, logging to <dir>/shmbufd.log."""

    def __init__(self, *extra_args, socket_mode=None):
        self.killed = False  # by the test, on purpose: its /dev/shm objects may stay
        self.dir = tempfile.mkdtemp(prefix="shmbuf-py.")
        self.path = os.path.join(self.dir, "shmbufd.sock")
        self.log_path = os.path.join(self.dir, "shmbufd.log")
        notify_path = os.path.join(self.dir, "notify")
        args = [SHMBUFD, "--socket", self.path, "--log-level", "info", *extra_args]
        if socket_mode is not None:
            args += ["--socket-mode", "%o" % socket_mode]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SHMBUFD_", "LISTEN_", "NOTIFY_SOCKET", "SHMBUF_SOCKET"))}
        env["NOTIFY_SOCKET"] = notify_path
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            notify.bind(notify_path)
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             env=env, close_fds=True)
            ready = False
            deadline = _now() + READY_TIMEOUT
            while not ready and self.proc.poll() is None and _now() < deadline:
                r, _, _ = select.select([notify], [], [], 0.1)
                if r:
                    msg = notify.recv(4096).decode(errors="replace")
                    ready = msg.startswith("READY=1") or "\nREADY=1" in msg
        os.unlink(notify_path)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("shmbufd did not get ready:\n" + self.log())

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return "(no log)"

    def shm_objects(self):
        """Every /dev/shm object this daemon logged creating."""
        return set(re.findall(r"created segment '.*' \(.*\) as /(\S+)", self.log()))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self):
        """Stops the daemon; returns the /dev/shm objects it left behind."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # A stopped daemon keeps its live segments for the next start (issue 10):
        # only objects its state record does not name count as left behind.
        recorded = self.state_record()
        left = {o for o in self.shm_objects() if os.path.exists("/dev/shm/" + o)}
        for o in left:  # do not leave litter for the next run
            os.unlink("/dev/shm/" + o)
        shutil.rmtree(self.dir)
        return {o for o in left if o not in recorded}

    def state_record(self):
        """Every word of every state record file the daemon wrote (object names among them)."""
        words = set()
        for root, _dirs, files in os.walk(self.dir):
            for name in files:
                if ".state" in name:
                    with open(os.path.join(root, name), errors="replace") as f:
                        words.update(w.lstrip("/") for w in f.read().split())
        return words


def _now():
    import time
    return time.monotonic()


@pytest.fixture
def daemon():
    if not SHMBUFD or not os.access(SHMBUFD, os.X_OK):
        pytest.skip("SHMBUFD_PATH does not name a shmbufd binary (run through ctest)")
    d = Daemon()
    yield d
    left = d.stop()
    assert not left or d.killed, "shmbufd left /dev/shm objects behind: %s" % sorted(left)


@pytest.fixture
def daemon_factory():
    """For tests that need a daemon with particular options."""
    started = []

    def start(*args, **kwargs):
        d = Daemon(*args, **kwargs)
        started.append(d)
        return d
    yield start
    for d in started:
        left = d.stop()
        assert not left or d.killed, "shmbufd left /dev/shm objects behind: %s" % sorted(left)


@pytest.fixture
def client(daemon):
    import shmbuf
    with shmbuf.Client(daemon.path) as c:
        yield c


def run_python(code, *args, env=None, timeout=60, check=True):
    """Runs code in a new interpreter (this one) that can import shmbuf; returns the result."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (MODULE_DIR, e.get("PYTHONPATH")) if p)
    if env:
        e.update(env)
    r = subprocess.run([sys.executable, "-X", "dev", "-c", code, *args], env=e, capture_output=True,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("child python failed (%d):\nstdout:\n%s\nstderr:\n%s"
                             % (r.returncode, r.stdout, r.stderr))
    return r
