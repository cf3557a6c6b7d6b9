# SPDX-License-Identifier: MIT
"""shmbuf.Client: every call, its results and its exceptions, against a real shmbufd."""
import errno
import os
import stat as stat_mod
import sys

import pytest

import shmbuf


def test_module_metadata():
    assert shmbuf.__version__ == shmbuf.version()
    assert shmbuf.SYSTEM_SOCKET == "/run/shmbuf/shmbufd.sock"
    assert shmbuf.NAME_MAX == 255
    assert "no such segment" in shmbuf.strerror(errno.ENOENT)
    assert shmbuf.strerror(-errno.ENOENT) == shmbuf.strerror(errno.ENOENT)


def test_default_socket_path_is_the_environment(daemon, monkeypatch):
    monkeypatch.setenv("SHMBUF_SOCKET", daemon.path)
    assert shmbuf.default_socket_path() == daemon.path
    with shmbuf.Client() as c:  # socket_path=None: as shmbuf_connect(NULL) in C
        assert c.socket_path is None
        assert c.status().socket_path == daemon.path
    with shmbuf.Client(socket_path=None) as c:
        assert c.status().pid == daemon.proc.pid


def test_socket_path_may_be_bytes_or_pathlike(daemon):
    import pathlib
    for p in (daemon.path.encode(), pathlib.Path(daemon.path)):
        with shmbuf.Client(p) as c:
            assert c.socket_path == p
            c.status()


def test_connect_without_daemon_is_connection_refused(tmp_path):
    missing = str(tmp_path / "nothing.sock")
    with pytest.raises(ConnectionRefusedError) as e:
        shmbuf.Client(missing)
    assert isinstance(e.value, ConnectionError)
    assert e.value.errno == errno.ENOENT and e.value.filename == missing
    assert str(e.value).count(missing) == 1, str(e.value)


def test_connect_to_the_default_names_the_socket_tried(tmp_path, monkeypatch):
    missing = str(tmp_path / "env.sock")
    monkeypatch.setenv("SHMBUF_SOCKET", missing)
    with pytest.raises(ConnectionRefusedError) as e:
        shmbuf.Client()  # socket_path None: the default, here $SHMBUF_SOCKET
    assert e.value.errno == errno.ENOENT and e.value.filename == missing
    assert str(e.value) == "[Errno %d] no shmbufd listening: %r" % (errno.ENOENT, missing)
    if os.getuid() != 0:
        return
    # A user's default without $SHMBUF_SOCKET: the system socket is tried next, and said so.
    import shutil
    import tempfile
    from conftest import run_python
    monkeypatch.delenv("SHMBUF_SOCKET")
    runtime = tempfile.mkdtemp(prefix="shmbuf-py-xdg.")  # tmp_path is root's alone
    os.chmod(runtime, 0o755)
    r = run_python("import os, sys, shmbuf\nos.setgid(65534); os.setuid(65534)\n"
                   "try:\n    shmbuf.Client()\nexcept ConnectionError as e:\n"
                   "    print(e.filename == shmbuf.default_socket_path(), e.filename)\n    print(e)",
                   env={"XDG_RUNTIME_DIR": runtime})
    shutil.rmtree(runtime)
    assert r.stdout.startswith("True " + runtime), r.stdout + r.stderr
    assert "system socket %s was tried too" % shmbuf.SYSTEM_SOCKET in r.stdout, r.stdout


def test_connect_to_dead_socket_is_connection_refused(tmp_path):
    import socket
    path = str(tmp_path / "dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(path)
    s.close()  # bound, nobody listening
    with pytest.raises(ConnectionRefusedError) as e:
        shmbuf.Client(path)
    assert e.value.errno == errno.ECONNREFUSED


def test_bad_socket_path_is_value_error():
    with pytest.raises(ValueError):
        shmbuf.Client("/tmp/" + "x" * 200)
    with pytest.raises(ValueError):
        shmbuf.Client("")
    with pytest.raises(TypeError):
        shmbuf.Client(42)


def test_create_stat_destroy(client):
    client.create("seg/a", 8192, mode=0o640)
    st = client.stat("seg/a")
    assert isinstance(st, shmbuf.StatInfo)
    assert (st.size, st.mode, st.uid, st.gid) == (8192, 0o640, os.getuid(), os.getgid())
    assert (st.read_leases, st.write_leases, st.waiters) == (0, 0, 0)
    client.create("seg/b", 1)  # mode defaults to 0o600
    assert client.stat("seg/b").mode == stat_mod.S_IRUSR | stat_mod.S_IWUSR
    client.destroy("seg/a")
    client.destroy("seg/b")
    with pytest.raises(FileNotFoundError) as e:
        client.stat("seg/a")
    assert e.value.errno == errno.ENOENT and e.value.filename == "seg/a"


def test_error_messages_name_the_segment_once(client):
    import pickle
    with pytest.raises(FileNotFoundError) as e:
        client.stat("nope")
    assert e.value.errno == errno.ENOENT and e.value.filename == "nope"
    # The daemon's words name it; str() does not add it again.
    assert str(e.value) == "[Errno 2] no such segment or lease: no segment named 'nope'"
    # Pickled (multiprocessing), it is the built-in type with the same errno and filename.
    p = pickle.loads(pickle.dumps(e.value))
    assert type(p) is FileNotFoundError and (p.errno, p.filename) == (errno.ENOENT, "nope")
    client.create("twice", 4096)
    with pytest.raises(FileExistsError) as e:
        client.create("twice", 4096)
    assert str(e.value).count("'twice'") == 1 and e.value.filename == "twice", str(e.value)
    with client.acquire("twice", write=True), pytest.raises(BlockingIOError) as e:
        client.acquire("twice", timeout=0)
    assert str(e.value).count("'twice'") == 1 and e.value.filename == "twice", str(e.value)
    client.destroy("twice")


def test_create_existing_is_file_exists_with_detail(client):
    client.create("dup", 4096)
    with pytest.raises(FileExistsError) as e:
        client.create("dup", 4096)
    assert e.value.errno == errno.EEXIST and e.value.filename == "dup"
    assert "already exists" in str(e.value)  # the daemon's own words
    client.destroy("dup")


@pytest.mark.parametrize("name,size,mode", [
    ("zero", 0, 0o600),          # size must be > 0
    ("badmode", 4096, 0o1777),   # mode <= 0777
    ("", 4096, 0o600),           # empty name
    ("/abs", 4096, 0o600),       # must not start with '/'
    ("x" * 256, 4096, 0o600),    # longer than NAME_MAX
    ("bad\x01", 4096, 0o600),    # not printable
    ("nul\0", 4096, 0o600),      # embedded NUL
])
def test_create_bad_arguments_are_value_errors(client, name, size, mode):
    with pytest.raises(ValueError):
        client.create(name, size, mode=mode)
    assert client.list_segments() == []


def test_argument_types_and_ranges(client):
    with pytest.raises(TypeError):
        client.create(b"bytes", 4096)
    with pytest.raises(ValueError):
        client.create("neg", -1)
    with pytest.raises(ValueError):
        client.create("huge", 1 << 64)
    with pytest.raises(TypeError):
        client.create("float", 1.5)
    with pytest.raises(ValueError):
        client.create("m", 1, mode=1 << 40)
    client.create("ok", 4096)
    with pytest.raises(ValueError):
        client.acquire("ok", -1)
    with pytest.raises(ValueError):
        client.acquire("ok", timeout=-1)
    with pytest.raises(ValueError):
        client.acquire("ok", timeout=float("nan"))
    with pytest.raises(ValueError):
        client.acquire("ok", timeout=1e12)
    with pytest.raises(TypeError):
        client.acquire("ok", 0, 0, True)  # write is keyword-only
    client.destroy("ok")


def test_destroy_missing_is_file_not_found(client):
    with pytest.raises(FileNotFoundError):
        client.destroy("never")


def test_destroy_keeps_memory_for_leases(client):
    client.create("doomed", 4096)
    v = client.acquire("doomed", write=True)
    client.destroy("doomed")
    memoryview(v)[:3] = b"abc"  # still mapped
    segs = client.list_segments()
    assert [(s.name, s.destroyed) for s in segs] == [("doomed", True)]
    v.release()
    assert client.list_segments() == []


def test_resize(client):
    client.create("rs", 4096)
    client.resize("rs", 3 * 4096)
    assert client.stat("rs").size == 3 * 4096
    with client.acquire("rs", 2 * 4096, 100) as v:
        with pytest.raises(BlockingIOError) as e:  # shrinking below a leased byte
            client.resize("rs", 4096)
        assert e.value.errno == errno.EBUSY
        client.resize("rs", 2 * 4096 + 100)  # down to the lease's end is fine
        assert len(v) == 100
    client.resize("rs", 4096)
    with pytest.raises(ValueError):
        client.resize("rs", 0)
    with pytest.raises(FileNotFoundError):
        client.resize("nope", 4096)
    client.destroy("rs")


def test_acquire_ranges(client):
    client.create("r", 10000)
    with client.acquire("r") as v:  # offset 0, length 0: the whole segment, read
        assert (len(v), v.offset, v.readonly) == (10000, 0, True)
    with client.acquire("r", 4097, 0, write=True) as v:  # to the end, unaligned offset
        assert (len(v), v.offset, v.readonly) == (10000 - 4097, 4097, False)
        memoryview(v)[:4] = b"\x01\x02\x03\x04"
    with client.acquire("r", 4097, 4) as v:
        assert bytes(v) == b"\x01\x02\x03\x04"
    for off, ln in ((0, 10001), (10000, 1), (10001, 0), ((1 << 64) - 1, 2)):
        with pytest.raises(ValueError) as e:  # -ERANGE
            client.acquire("r", off, ln)
    assert "r" in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        client.acquire("missing")
    assert e.value.filename == "missing"
    client.destroy("r")


def test_view_attributes_and_repr(client):
    client.create("attr", 4096)
    with client.acquire("attr", 100, 200, write=True) as w:
        assert w.name == "attr" and w.client is client
        assert w.lease_id > 0 and not w.released
        leases = client.list_leases("attr")
        assert [(l.lease_id, l.offset, l.length, l.write) for l in leases] == [(w.lease_id, 100, 200, True)]
        assert "write" in repr(w) and "offset=100" in repr(w)
    assert w.released and "released" in repr(w)
    assert (w.offset, w.lease_id) == (100, leases[0].lease_id)  # still readable
    with pytest.raises(TypeError):
        shmbuf.View()
    client.destroy("attr")


def test_timeouts(client):
    import time
    client.create("t", 4096)
    with client.acquire("t", write=True):
        with pytest.raises(BlockingIOError) as e:
            client.acquire("t", timeout=0)
        assert e.value.errno == errno.EBUSY
        t0 = time.monotonic()
        with pytest.raises(TimeoutError) as e:
            client.acquire("t", timeout=0.2)
        assert time.monotonic() - t0 >= 0.19
        assert e.value.errno == errno.ETIMEDOUT
        with pytest.raises(TimeoutError):
            client.acquire("t", timeout=0.0001)  # rounds up to 1 ms, never to "do not wait"
        with pytest.raises(BlockingIOError):
            client.acquire("t", 0, 1, timeout=0)  # overlapping range
    with client.acquire("t", timeout=0) as v:
        assert len(v) == 4096
    client.destroy("t")


def test_readers_share_writers_exclude(client):
    client.create("rw", 8192)
    r1 = client.acquire("rw", 0, 4096)
    r2 = client.acquire("rw", 0, 4096, timeout=0)
    w = client.acquire("rw", 4096, 4096, write=True, timeout=0)  # disjoint range
    with pytest.raises(BlockingIOError):
        client.acquire("rw", 0, 1, write=True, timeout=0)
    st = client.stat("rw")
    assert (st.read_leases, st.write_leases) == (2, 1)
    for v in (r1, r2, w):
        v.release()
    client.destroy("rw")


def test_listings_and_status(client, daemon):
    client.create("l/one", 4096)
    client.create("l/two", 8192, mode=0o644)
    segs = client.list_segments()
    assert sorted((s.name, s.size, s.mode) for s in segs) == [("l/one", 4096, 0o600), ("l/two", 8192, 0o644)]
    assert all(s.pid == os.getpid() and s.uid == os.getuid() and not s.destroyed for s in segs)
    assert segs[0].id != segs[1].id
    with client.acquire("l/one") as r, client.acquire("l/two", write=True) as w:
        leases = client.list_leases()
        assert sorted((l.segment, l.write, l.waiting) for l in leases) == [("l/one", False, False),
                                                                            ("l/two", True, False)]
        assert {l.lease_id for l in leases} == {r.lease_id, w.lease_id}
        assert all(l.pid == os.getpid() for l in leases)
        assert [l.lease_id for l in client.list_leases("l/one")] == [r.lease_id]
        st = client.status()
        assert isinstance(st, shmbuf.ServerStatus)
        assert (st.segments, st.read_leases, st.write_leases, st.clients) == (2, 1, 1, 1)
        assert st.bytes >= 4096 + 8192 and st.max_bytes > 0 and st.version
        assert st.pid == daemon.proc.pid and st.socket_path == daemon.path
    with pytest.raises(FileNotFoundError):
        client.list_leases("l/none")
    with pytest.raises(TypeError):
        client.list_leases(5)
    assert client.list_leases() == []
    clients = client.list_clients()
    assert [c.is_self for c in clients] == [True] and clients[0].pid == os.getpid()
    client.destroy("l/one")
    client.destroy("l/two")


def test_close_and_context_manager(daemon):
    c = shmbuf.Client(daemon.path)
    assert not c.closed and "closed" not in repr(c)
    with c as same:
        assert same is c
    assert c.closed and "closed" in repr(c)
    c.close()  # idempotent
    for call in (lambda: c.create("x", 1), lambda: c.stat("x"), lambda: c.acquire("x"), c.status,
                 c.list_segments, c.list_leases, c.list_clients):
        with pytest.raises(ValueError, match="closed"):
            call()
    with pytest.raises(ValueError):
        with c:
            pass


def test_close_ends_views_and_their_leases(daemon):
    c = shmbuf.Client(daemon.path)
    c.create("cl", 4096)
    v = c.acquire("cl", write=True)
    c.close()  # no exports: the views' leases end with the connection
    assert v.released
    with pytest.raises(ValueError):
        memoryview(v)
    v.release()  # nothing left to do
    with shmbuf.Client(daemon.path) as c2:
        with c2.acquire("cl", write=True, timeout=0):
            pass
        c2.destroy("cl")


def test_close_refused_while_buffers_exported(daemon):
    c = shmbuf.Client(daemon.path)
    c.create("ex", 4096)
    v = c.acquire("ex")
    m = memoryview(v)
    with pytest.raises(BufferError):
        c.close()
    assert not c.closed and not v.released
    assert m[0] == 0  # still mapped
    m.release()
    c.destroy("ex")
    c.close()
    assert v.released


def test_daemon_gone_is_connection_error(daemon, monkeypatch):
    # The daemon does not come back: without this the client would first try to
    # reconnect for its whole bound (30 s) before reporting the loss.
    monkeypatch.setenv("SHMBUF_RECONNECT", "0")
    c = shmbuf.Client(daemon.path)
    c.create("gone", 4096)
    v = c.acquire("gone")
    daemon.kill()  # SIGKILL: its /dev/shm objects stay (the fixture removes them)
    daemon.killed = True
    with pytest.raises(ConnectionResetError) as e:
        c.stat("gone")
    assert isinstance(e.value, ConnectionError) and e.value.errno == errno.ECONNRESET
    with pytest.raises(ConnectionError):
        c.acquire("gone")
    try:
        v.release()  # the library unmaps it whatever the daemon says
    except ConnectionError:
        pass
    assert v.released
    c.close()


def test_permission_error_when_the_socket_refuses_us(daemon):
    # Segment modes are recorded, not enforced (docs/design.md, trust model): the socket's
    # permissions are what refuses a user, and connect says so with PermissionError.
    if os.getuid() != 0:
        pytest.skip("needs root to act as another user")
    from conftest import run_python
    r = run_python("import os, sys, shmbuf\nos.setgid(65534); os.setuid(65534)\n"
                   "try:\n    shmbuf.Client(sys.argv[1])\nexcept PermissionError as e:\n"
                   "    print('connect', e.errno, e.filename == sys.argv[1])", daemon.path)
    assert "connect 13 True" in r.stdout, r.stderr


def test_type_stub_matches_the_module():
    """shmbuf.pyi names what the module has, and the module has what the stub names."""
    import ast
    with open(os.path.join(os.path.dirname(__file__), "..", "shmbuf.pyi")) as f:
        stub = ast.parse(f.read())
    classes = {n.name: n for n in stub.body if isinstance(n, ast.ClassDef)}
    functions = {n.name for n in stub.body if isinstance(n, ast.FunctionDef)}
    public = {k for k in dir(shmbuf) if not k.startswith("_")}
    assert public == set(classes) | functions | {"SYSTEM_SOCKET", "NAME_MAX"}
    for name, node in classes.items():
        members = {n.name for n in ast.walk(node) if isinstance(n, ast.FunctionDef)}
        members |= {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
        members -= {"__init__", "__buffer__", "__release_buffer__"}
        runtime = getattr(shmbuf, name)
        assert {m for m in members if not hasattr(runtime, m)} == set(), name
        if name in ("Client", "View"):
            mine = {k for k in vars(runtime) if not k.startswith("__") or k in ("__enter__", "__exit__")}
            assert mine <= members, (name, mine - members)


def test_limits_are_plain_os_errors(daemon_factory):
    d = daemon_factory("--max-segments", "1", "--max-bytes", "1M", "--max-leases", "2")
    with shmbuf.Client(d.path) as c:
        c.create("one", 4096)
        with pytest.raises(OSError) as e:
            c.create("two", 4096)
        assert type(e.value) is OSError and e.value.errno == errno.EDQUOT
        with pytest.raises(OSError) as e:
            c.resize("one", 2 << 20)
        assert type(e.value) is OSError and e.value.errno == errno.ENOSPC
        v1, v2 = c.acquire("one", 0, 10), c.acquire("one", 10, 10)
        with pytest.raises(OSError) as e:
            c.acquire("one", 20, 10)
        assert e.value.errno == errno.EDQUOT and e.value.filename == "one"
        v1.release()
        v2.release()
        c.destroy("one")


def test_signatures_match_the_stub():
    """inspect.signature() works on every call, with the stub's parameter names."""
    import ast
    import inspect
    with open(os.path.join(os.path.dirname(__file__), "..", "shmbuf.pyi")) as f:
        stub = ast.parse(f.read())
    for cls in (n for n in stub.body if isinstance(n, ast.ClassDef) and n.name in ("Client", "View")):
        for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("__")
                   and not any(isinstance(d, ast.Name) and d.id == "property" for d in n.decorator_list)):
            names = [a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs][1:]
            runtime = inspect.signature(getattr(getattr(shmbuf, cls.name), fn.name))
            assert list(runtime.parameters)[1:] == names, (cls.name, fn.name)
