# SPDX-License-Identifier: MIT
"""shmbuf with threads: the GIL is released while calls wait; one client serves many threads."""
import threading
import time

import numpy as np
import pytest

import shmbuf


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in %.0f s" % timeout
        time.sleep(0.001)


def test_gil_released_while_acquire_waits(client, daemon):
    client.create("gil", 4096)
    holder = client.acquire("gil", write=True)
    got = []
    t = threading.Thread(target=lambda: got.append(client.acquire("gil", write=True)))  # timeout None: waits
    t.start()
    wait_for(lambda: client.stat("gil").waiters == 1)
    # The waiting thread holds no GIL: this thread runs Python code meanwhile.
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.1:
        n += 1
    assert n > 1000 and t.is_alive()
    holder.release()
    t.join(10)
    assert not t.is_alive() and len(got) == 1 and not got[0].readonly
    got[0].release()
    client.destroy("gil")


def test_many_threads_one_client(client):
    client.create("many", 8 * 4096)
    errors = []

    def work(i):
        try:
            for k in range(150):
                with client.acquire("many", i * 4096, 4096, write=True, timeout=5) as v:
                    a = np.frombuffer(v, dtype=np.uint32)
                    a[:] = k
                    del a
                with client.acquire("many", i * 4096, 4096) as r:
                    assert np.frombuffer(r, dtype=np.uint32)[17] == k
                if k % 25 == 0:
                    client.stat("many")
                    client.list_leases()
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert client.list_leases() == []
    client.destroy("many")


def test_threads_contend_for_one_range(client, daemon):
    client.create("one", 4096)
    counter = []

    def bump():
        with shmbuf.Client(daemon.path) as c:
            for _ in range(100):
                with c.acquire("one", 0, 8, write=True, timeout=10) as v:
                    a = np.frombuffer(v, dtype=np.int64)
                    a[0] += 1  # the write lease makes this read-modify-write exclusive
                    del a
        counter.append(1)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(counter) == 4
    with client.acquire("one", 0, 8) as r:
        assert np.frombuffer(r, dtype=np.int64)[0] == 400
    client.destroy("one")


def test_close_while_another_thread_waits(daemon):
    """close() does not pull the connection from under a waiting call: it returns at once,
    the waiter finishes (a lease granted meanwhile is given back) and then it disconnects."""
    other = shmbuf.Client(daemon.path)
    other.create("cw", 4096)
    blocker = other.acquire("cw", write=True)
    c = shmbuf.Client(daemon.path)
    outcome = []

    def waiter():
        try:
            outcome.append(c.acquire("cw", write=True))
        except Exception as e:
            outcome.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    wait_for(lambda: other.stat("cw").waiters == 1)
    c.close()
    assert c.closed and t.is_alive()
    with pytest.raises(ValueError, match="closed"):
        c.stat("cw")
    assert len(other.list_clients()) == 2  # still connected: the waiter uses it
    blocker.release()
    t.join(10)
    assert isinstance(outcome[0], ValueError) and "closed" in str(outcome[0])
    wait_for(lambda: len(other.list_clients()) == 1)
    assert other.list_leases() == []  # the granted lease was given back
    other.destroy("cw")
    other.close()


def test_threads_share_a_view(client):
    client.create("sv", 4096)
    v = client.acquire("sv", write=True)
    stop = threading.Event()
    errors = []

    def use():
        try:
            while not stop.is_set():
                try:
                    m = memoryview(v)
                except ValueError:  # released meanwhile
                    return
                m[0] = 1
                m.release()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    released = False
    deadline = time.monotonic() + 10
    while not released and time.monotonic() < deadline:
        try:
            v.release()
            released = True
        except BufferError:  # a thread had an export at that moment
            time.sleep(0.0005)
    stop.set()
    for t in threads:
        t.join(10)
    assert released and not errors, errors
    assert client.list_leases() == []
    client.destroy("sv")


def test_acquire_newer_waits_without_the_gil_and_fails_on_destroy(client, daemon):
    client.create("news", 4096)
    with client.acquire("news", write=True):
        pass
    gen = client.stat("news").generation
    assert gen == 1
    outcome = []

    def consumer():
        try:
            outcome.append(client.acquire_newer("news", after=gen))  # timeout None: waits
        except Exception as e:
            outcome.append(e)
    t = threading.Thread(target=consumer)
    t.start()
    wait_for(lambda: any(l.waiting for l in client.list_leases("news")))
    # The wait holds no GIL, and blocks no writer while there is no news.
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.1:
        n += 1
    assert n > 1000 and t.is_alive()
    with client.acquire("news", 100, 10, write=True, timeout=0):
        pass
    t.join(10)
    assert not t.is_alive() and len(outcome) == 1 and outcome[0].generation == gen + 1
    outcome.pop().release()
    # Destroyed while waiting: FileNotFoundError, naming the segment once.
    t = threading.Thread(target=consumer)
    gen += 1
    t.start()
    wait_for(lambda: any(l.waiting for l in client.list_leases("news")))
    client.destroy("news")
    t.join(10)
    assert not t.is_alive() and len(outcome) == 1
    e = outcome[0]
    assert isinstance(e, FileNotFoundError) and e.filename == "news", repr(e)
    assert str(e).count("'news'") == 1, str(e)
    with pytest.raises(FileNotFoundError):
        client.acquire_newer("news", after=0, timeout=0)
    with pytest.raises(TypeError, match="after"):
        client.acquire_newer("news")
    with pytest.raises(ValueError):
        client.acquire_newer("news", after=-1)
