# SPDX-License-Identifier: MIT
"""shmbuf.View: the buffer protocol's export rules, release, and views dropped unreleased."""
import ctypes
import gc
import io
import sys

import numpy as np
import pytest

import shmbuf


PyBUF_SIMPLE, PyBUF_WRITABLE = 0, 1


def get_buffer(obj, flags):
    """PyObject_GetBuffer(obj, flags) itself, then PyBuffer_Release: (readonly, len)."""
    api = ctypes.pythonapi
    api.PyObject_GetBuffer.argtypes = [ctypes.py_object, ctypes.c_void_p, ctypes.c_int]
    api.PyBuffer_Release.argtypes = [ctypes.c_void_p]
    view = ctypes.create_string_buffer(256)  # a Py_buffer is 80 bytes
    api.PyObject_GetBuffer(obj, view, flags)  # pythonapi raises what the call set
    # struct Py_buffer { void *buf; PyObject *obj; Py_ssize_t len, itemsize; int readonly; ... }
    length = ctypes.c_ssize_t.from_buffer(view, 16).value
    readonly = ctypes.c_int.from_buffer(view, 32).value
    api.PyBuffer_Release(view)
    return bool(readonly), length


@pytest.fixture
def seg(client):
    client.create("v", 3 * 4096)
    yield "v"
    client.destroy("v")


def test_write_view_exports_writable_buffer(client, seg):
    with client.acquire(seg, 0, 4096, write=True) as v:
        m = memoryview(v)
        assert (m.readonly, m.format, m.itemsize, m.nbytes, m.ndim) == (False, "B", 1, 4096, 1)
        m[:5] = b"hello"
        assert get_buffer(v, PyBUF_WRITABLE) == (False, 4096)
        assert io.BytesIO(b"he").readinto(v) == 2  # a PyBUF_WRITABLE request
        c = (ctypes.c_char * 4096).from_buffer(v)
        assert c.raw[:5] == b"hello"
        c[5:8] = b"!!!"
        assert bytes(m[:8]) == b"hello!!!"
        del c
        m.release()
    with client.acquire(seg, 0, 8) as r:
        assert bytes(r) == b"hello!!!"


def test_read_view_exports_read_only_buffer(client, seg):
    with client.acquire(seg, 0, 4096) as v:
        assert get_buffer(v, PyBUF_SIMPLE) == (True, 4096)
        m = memoryview(v)
        assert m.readonly
        with pytest.raises(TypeError):
            m[0] = 1
        with pytest.raises(BufferError, match="read-only"):
            get_buffer(v, PyBUF_WRITABLE)
        with pytest.raises(TypeError):
            io.BytesIO(b"x").readinto(v)  # what Python makes of that BufferError
        with pytest.raises(TypeError):
            (ctypes.c_char * 4096).from_buffer(v)  # ctypes asks, then checks readonly itself
        a = np.frombuffer(v, dtype=np.uint8)
        assert not a.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 1
        with pytest.raises(ValueError):
            a.flags.writeable = True  # numpy cannot make it writable either
        del a
        m.release()


def test_buffer_shares_the_mapping(client, seg):
    """Two exports of one write view are the same bytes: nothing is copied."""
    with client.acquire(seg, 4096, 4096, write=True) as v:
        a = np.frombuffer(v, dtype=np.uint32)
        b = np.frombuffer(v, dtype=np.uint8)
        assert np.shares_memory(a, b) and not a.flags.owndata
        assert a.flags.writeable
        a[:] = np.arange(1024, dtype=np.uint32)
        assert b[4] == 1 and bytes(memoryview(v)[8:12]) == (2).to_bytes(4, sys.byteorder)
        del a, b


def test_release_refused_while_exported_and_lease_kept(client, seg):
    v = client.acquire(seg, 0, 4096, write=True)
    m = memoryview(v)
    with pytest.raises(BufferError, match="export"):
        v.release()
    assert not v.released
    assert [l.lease_id for l in client.list_leases(seg)] == [v.lease_id]
    m[0] = 7  # still mapped, still ours
    a = np.frombuffer(v, dtype=np.uint8)
    m.release()
    with pytest.raises(BufferError):  # the array is still an export
        v.release()
    del a
    v.release()
    assert v.released and client.list_leases(seg) == []


def test_with_block_refuses_to_end_under_an_export(client, seg):
    with pytest.raises(BufferError):
        with client.acquire(seg) as v:
            a = np.frombuffer(v, dtype=np.uint8)
    assert not v.released  # kept: a still uses it
    assert a[0] == 0
    del a
    v.release()


def test_released_view_refuses_buffer_access(client, seg):
    v = client.acquire(seg, 10, 20, write=True)
    v.release()
    v.release()  # idempotent
    for access in (lambda: memoryview(v), lambda: np.frombuffer(v, dtype=np.uint8), lambda: bytes(v), lambda: len(v),
                   lambda: (ctypes.c_char * 20).from_buffer(v)):
        with pytest.raises(ValueError, match="released"):
            access()
    with pytest.raises(ValueError):
        with v:
            pass
    assert (v.offset, v.readonly, v.released) == (10, False, True)


def test_len_and_offset(client, seg):
    with client.acquire(seg, 5, 4099) as v:
        assert len(v) == 4099 and v.offset == 5 and memoryview(v).nbytes == 4099


def test_dropped_view_warns_and_releases(client, seg):
    v = client.acquire(seg, write=True)
    lease = v.lease_id
    with pytest.warns(ResourceWarning, match="unreleased shmbuf.View"):
        del v
        gc.collect()
    assert lease not in [l.lease_id for l in client.list_leases()]
    with client.acquire(seg, write=True, timeout=0):  # the range is free again
        pass


def test_view_keeps_its_client_alive(daemon):
    """A view holds its client: dropping the client first changes nothing; dropping the
    view then releases the lease and disconnects."""
    c = shmbuf.Client(daemon.path)
    c.create("alive", 4096)
    v = c.acquire("alive", write=True)
    del c
    gc.collect()
    memoryview(v)[:2] = b"ok"
    with shmbuf.Client(daemon.path) as other:
        assert len(other.list_clients()) == 2
        with pytest.warns(ResourceWarning):
            del v
            gc.collect()
        assert len(other.list_clients()) == 1
        with other.acquire("alive") as r:
            assert bytes(r)[:2] == b"ok"
        other.destroy("alive")


def test_view_in_a_cycle_is_released_by_gc(client, seg):
    v = client.acquire(seg, write=True)
    box = [v]
    box.append(box)
    del v, box
    with pytest.warns(ResourceWarning):
        gc.collect()
    assert client.list_leases() == []


def test_client_closed_before_view_dies(daemon):
    c = shmbuf.Client(daemon.path)
    c.create("cb", 4096)
    v = c.acquire("cb")
    c.destroy("cb")
    c.close()
    assert v.released
    del v  # no warning, nothing to release: the connection's end released it
    gc.collect()
    del c


def test_refcounts_stay_put(client, seg):
    """No reference leaks on the hot paths and the error paths."""
    name = "v"
    before = (sys.getrefcount(client), sys.getrefcount(name))
    for _ in range(200):
        with client.acquire(name, 0, 4096, write=True) as v:
            m = memoryview(v)
            m.release()
        with pytest.raises(ValueError):
            client.acquire(name, 0, 1 << 30)
        with pytest.raises(FileNotFoundError):
            client.stat("none")
        client.stat(name)
        client.list_leases(name)
    del v, m
    assert (sys.getrefcount(client), sys.getrefcount(name)) == before
