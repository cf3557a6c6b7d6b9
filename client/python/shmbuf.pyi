# SPDX-License-Identifier: MIT
"""Type stub for the shmbuf extension module (client/python/)."""
import os
import sys
from types import TracebackType
from typing import Final, NamedTuple, final

if sys.version_info >= (3, 12):
    from collections.abc import Buffer as _Buffer
else:
    _Buffer = object

__version__: Final[str]
SYSTEM_SOCKET: Final[str]
NAME_MAX: Final[int]

def version() -> str:
    """The version of the libshmbuf this module runs with."""

def default_socket_path() -> str:
    """The socket Client() tries first: $SHMBUF_SOCKET when set, else the default."""

def strerror(errno: int) -> str:
    """libshmbuf's words for an errno (either sign)."""

_StrPath = str | bytes | os.PathLike[str] | os.PathLike[bytes]

@final
class StatInfo(NamedTuple):
    size: int
    mode: int
    uid: int
    gid: int
    read_leases: int
    write_leases: int
    waiters: int
    generation: int

@final
class SegmentInfo(NamedTuple):
    name: str
    id: int
    size: int
    created_ns: int
    mode: int
    uid: int
    gid: int
    pid: int
    read_leases: int
    write_leases: int
    waiters: int
    destroyed: bool
    flags: int
    generation: int

@final
class LeaseInfo(NamedTuple):
    lease_id: int
    client_id: int
    segment: str
    offset: int
    length: int
    write: bool
    waiting: bool
    segment_destroyed: bool
    age_ns: int
    pid: int
    uid: int
    comm: str
    flags: int

@final
class ClientInfo(NamedTuple):
    client_id: int
    pid: int
    uid: int
    gid: int
    comm: str
    leases: int
    waiting: int
    age_ns: int
    is_self: bool
    subscribed: bool
    flags: int

@final
class ServerStatus(NamedTuple):
    version: str
    socket_path: str
    pid: int
    started_ns: int
    uptime_ns: int
    bytes: int
    max_bytes: int
    segments: int
    max_segments: int
    clients: int
    max_clients: int
    read_leases: int
    write_leases: int
    waiters: int

@final
class View(_Buffer):
    """A leased, mapped byte range of a segment; speaks the buffer protocol.

    Read leases export read-only buffers (a writable request raises BufferError).
    release() raises BufferError while a memoryview or array uses the buffer; after
    release every buffer access raises ValueError. Dropped unreleased: released with a
    ResourceWarning.
    """
    @property
    def offset(self) -> int: ...
    @property
    def lease_id(self) -> int: ...
    @property
    def generation(self) -> int:
        """The range's write generation when granted (0 if nothing wrote it yet)."""
    @property
    def readonly(self) -> bool: ...
    @property
    def released(self) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def client(self) -> Client: ...
    def __len__(self) -> int: ...
    if sys.version_info >= (3, 12):
        def __buffer__(self, flags: int, /) -> memoryview: ...
        def __release_buffer__(self, buffer: memoryview, /) -> None: ...
    def release(self) -> None: ...
    def __enter__(self) -> View: ...
    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool: ...

@final
class Client:
    """A connection to shmbufd (socket_path None: $SHMBUF_SOCKET, else the default).

    ConnectionRefusedError when no daemon listens there; PermissionError when the socket
    refuses us (.filename: the socket tried). Thread-safe; a client inherited across fork() refuses every call
    (ConnectionResetError).
    """
    def __init__(self, socket_path: _StrPath | None = None) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def socket_path(self) -> _StrPath | None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Client: ...
    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool: ...
    def create(self, name: str, size: int, mode: int = 0o600) -> None: ...
    def destroy(self, name: str) -> None: ...
    def resize(self, name: str, size: int) -> None: ...
    def stat(self, name: str) -> StatInfo: ...
    def acquire(self, name: str, offset: int = 0, length: int = 0, *, write: bool = False,
                timeout: float | None = None) -> View: ...
    def acquire_newer(self, name: str, offset: int = 0, length: int = 0, *, after: int,
                      write: bool = False, timeout: float | None = None) -> View:
        """As acquire(), once a write newer than generation `after` has ended on the range.

        timeout=0 with no news yet raises BlockingIOError; a timeout, TimeoutError.
        """
    def status(self) -> ServerStatus: ...
    def list_segments(self) -> list[SegmentInfo]: ...
    def list_leases(self, name: str | None = None) -> list[LeaseInfo]: ...
    def list_clients(self) -> list[ClientInfo]: ...
