"""Per-stream transfer engine: N HTTP/1.1 connections moving bytes back to back.

Each stream has one worker thread that connects, waits for the common start, then issues
``request_size`` requests (GET ``/download?bytes=n`` or POST ``/upload``) until the end of
the test or until its share of ``max_bytes`` is used (docs/methods.md §8.1).  Counters are
written by the worker and read by the sampler (:mod:`qos_agent.throughput.sampler`).

Faults become a stream ``failure`` (status, reason), never an exception out of a worker:
no data for ``timeout`` is ``timeout``; a reset, early close, non-200 reply or garbage is
``error``; a refused connection is ``unreachable``.  :meth:`Transfer.shutdown` reads the
final ``TCP_INFO`` counters and aborts every socket with RST at the deadline, which
unblocks any worker, so the test never runs past its deadline by more than about a second.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qos.records import Status
from qos_agent.net import tcpinfo
from qos_agent.net.http_wire import (
    BaseUrl,
    ProtocolError,
    ResponseHead,
    parse_upload_reply,
    read_response_head,
    request_head,
)
from qos_agent.net.sockets import abort_with_rst
from qos_agent.net.tcpinfo import TcpInfo

_RECV_BUFFER_BYTES = 1 << 20
_SEND_CHUNK_BYTES = 1 << 20
_UPLOAD_PATTERN_BYTES = 4 << 20
_MAX_REPLY_BODY_BYTES = 4096
_JOIN_GRACE_S = 1.0


@dataclass
class StreamState:
    """One connection's state; counters are written by its worker, read by the sampler."""

    index: int
    sock: socket.socket | None = None
    received: int = 0  # download: every byte read from the socket(s)
    app_sent: int = 0  # upload: bytes handed to the kernel (heads + bodies)
    head_bytes: int = 0  # HTTP heads (request heads for upload, response heads for download)
    body_bytes: int = 0  # download: body bytes read; upload: body bytes handed to the kernel
    confirmed: int = 0  # upload: bytes the server said it received
    requests: int = 0
    share_left: int | None = None  # bytes still allowed by max_bytes (None: unlimited)
    failure: tuple[Status, str] | None = None
    finished: bool = False
    retired: list[TcpInfo] = field(default_factory=list)  # counters of closed sockets
    lock: threading.Lock = field(default_factory=threading.Lock)


class StreamFailure(Exception):
    """A fault of one stream with the status it gives the measurement."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def make_streams(count: int, max_bytes: int) -> list[StreamState]:
    """``count`` streams; ``max_bytes`` (0: unlimited) is shared out as evenly as possible."""
    streams = [StreamState(index=i) for i in range(count)]
    if max_bytes:
        share, extra = divmod(max_bytes, len(streams))
        for s in streams:
            s.share_left = share + (1 if s.index < extra else 0)
    return streams


class Transfer:
    """The workers of one test and the events that coordinate them."""

    def __init__(
        self, streams: list[StreamState], params: Mapping[str, Any], *, upload: bool
    ) -> None:
        self.streams = streams
        self.params = params
        self.upload = upload
        self.ready = threading.Event()  # a worker connected or failed to
        self.go = threading.Event()  # all connected: start transferring
        self.stop = threading.Event()  # end of test: workers return
        self.wake = threading.Event()  # a worker failed or all finished: sampler wakes up
        self._pattern = memoryview(os.urandom(_UPLOAD_PATTERN_BYTES)) if upload else None
        self.base: BaseUrl | None = None
        self.workers: list[threading.Thread] = []

    def start(self, base: BaseUrl, family: int, sockaddr: Any) -> None:
        """Start one worker per stream; each connects, then waits for :attr:`go`."""
        self.base = base
        self.workers = [
            threading.Thread(
                target=self._worker,
                args=(s, family, sockaddr),
                name=f"qos-http-{s.index}",
                daemon=True,
            )
            for s in self.streams
        ]
        for w in self.workers:
            w.start()

    # workers ---------------------------------------------------------------------------
    def _worker(self, s: StreamState, family: int, sockaddr: Any) -> None:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(self.params["timeout"])
            try:
                sock.connect(sockaddr)
            except BaseException:
                sock.close()
                raise
            with s.lock:
                s.sock = sock
            self.ready.set()
            self.go.wait()
            if self.stop.is_set():
                return
            while not self.stop.is_set():
                size = self.params["request_size"]
                if s.share_left is not None:
                    size = min(size, s.share_left)
                if size <= 0:
                    s.finished = True
                    if all(x.finished for x in self.streams):
                        self.wake.set()
                    return
                if self.upload:
                    self._upload_once(s, size)
                else:
                    self._download_once(s, size)
                if s.share_left is not None:
                    s.share_left -= size
        except StreamFailure as exc:
            self._fail(s, exc.status, exc.reason)
        except TimeoutError:
            if s.sock is None:
                self._fail(s, Status.TIMEOUT, "connect timed out")
            else:
                what = "sending" if self.upload else "data"
                self._fail(
                    s,
                    Status.TIMEOUT,
                    f"server stalled: no progress {what} for {self.params['timeout']:g} s",
                )
        except ProtocolError as exc:
            self._fail(s, Status.ERROR, f"invalid reply from server: {exc}")
        except (ConnectionRefusedError, socket.gaierror) as exc:
            self._fail(s, Status.UNREACHABLE, f"connect failed: {exc}")
        except ConnectionResetError:
            self._fail(s, Status.ERROR, "connection reset by server")
        except OSError as exc:
            if s.sock is None and not self.stop.is_set():
                self._fail(s, Status.UNREACHABLE, f"connect failed: {exc}")
            else:
                self._fail(s, Status.ERROR, f"connection failed: {exc}")

    def _fail(self, s: StreamState, status: Status, reason: str) -> None:
        if self.stop.is_set():
            return  # errors caused by our own shutdown at the deadline are not failures
        s.failure = (status, f"stream {s.index}: {reason}")
        self.ready.set()
        self.wake.set()

    def _recv(self, s: StreamState, n: int) -> bytes:
        assert s.sock is not None
        data = s.sock.recv(n)
        s.received += len(data)
        return data

    def _reply_head(self, s: StreamState, pending: bytearray) -> ResponseHead:
        head = read_response_head(lambda n: self._recv(s, n), pending)
        if not self.upload:  # heads in the measured direction only (they are in bytes_total)
            s.head_bytes += head.head_bytes
        if head.status != 200:
            raise StreamFailure(Status.ERROR, f"server replied {head.status} {head.reason}".strip())
        if head.content_length is None:
            raise ProtocolError("reply has no Content-Length")
        return head

    def _download_once(self, s: StreamState, size: int) -> None:
        assert s.sock is not None and self.base is not None
        path = f"{self.base.path_prefix}/download?bytes={size}"
        s.sock.sendall(request_head("GET", path, self.base.host_header))
        s.requests += 1
        pending = bytearray()
        head = self._reply_head(s, pending)
        if head.content_length != size:
            raise ProtocolError(f"asked for {size} bytes, reply announces {head.content_length}")
        if len(pending) > size:
            raise ProtocolError("server sent more bytes than its Content-Length")
        s.body_bytes += len(pending)
        left = size - len(pending)
        buffer = bytearray(min(_RECV_BUFFER_BYTES, max(1, left)))
        view = memoryview(buffer)
        sock = s.sock
        while left > 0:
            if self.stop.is_set():
                return
            n = sock.recv_into(view[: min(len(view), left)])
            if n == 0:
                if self.stop.is_set():
                    return
                raise StreamFailure(
                    Status.ERROR,
                    f"connection closed by server after {size - left} of {size} body bytes",
                )
            s.received += n
            s.body_bytes += n
            left -= n
        if not head.keep_alive:
            self._reconnect(s)

    def _upload_once(self, s: StreamState, size: int) -> None:
        assert s.sock is not None and self._pattern is not None and self.base is not None
        sock = s.sock
        head = request_head(
            "POST", f"{self.base.path_prefix}/upload", self.base.host_header, content_length=size
        )
        sock.sendall(head)
        s.app_sent += len(head)
        s.head_bytes += len(head)
        s.requests += 1
        pattern = self._pattern
        offset = 0
        left = size
        while left > 0:
            if self.stop.is_set():
                return
            chunk = min(_SEND_CHUNK_BYTES, left, len(pattern) - offset)
            n = sock.send(pattern[offset : offset + chunk])
            s.app_sent += n
            s.body_bytes += n
            left -= n
            offset = (offset + n) % len(pattern)
        pending = bytearray()
        reply = self._reply_head(s, pending)
        length = reply.content_length or 0
        if length > _MAX_REPLY_BODY_BYTES:
            raise ProtocolError(f"upload reply body of {length} bytes is too large")
        while len(pending) < length:
            chunk_bytes = self._recv(s, length - len(pending))
            if not chunk_bytes:
                raise StreamFailure(Status.ERROR, "connection closed by server inside its reply")
            pending += chunk_bytes
        confirmed = parse_upload_reply(bytes(pending[:length]))
        s.confirmed += confirmed
        if confirmed != size:
            raise StreamFailure(Status.ERROR, f"server confirmed {confirmed} of {size} bytes")
        if not reply.keep_alive:
            self._reconnect(s)

    def _reconnect(self, s: StreamState) -> None:
        """The server closed the connection after a reply: open a new one (counters kept)."""
        old = s.sock
        assert old is not None and self.base is not None
        new = socket.create_connection(
            (self.base.host, self.base.port), timeout=self.params["timeout"]
        )
        with s.lock:
            info = tcpinfo.read(old)
            if info is not None:
                s.retired.append(info)
            s.sock = new
        old.close()

    # end of test -----------------------------------------------------------------------
    def shutdown(self) -> list[TcpInfo]:
        """Stop workers, read final TCP counters, abort the connections; never blocks long."""
        self.stop.set()
        self.go.set()
        final: list[TcpInfo] = []
        for s in self.streams:
            with s.lock:
                final.extend(s.retired)
                sock = s.sock
                if sock is None:
                    continue
                info = tcpinfo.read(sock)
                if info is not None:
                    final.append(info)
                # RST instead of flushing the send queue: no traffic after the deadline
                abort_with_rst(sock)
        for w in self.workers:
            w.join(timeout=_JOIN_GRACE_S)
        for s in self.streams:
            if s.sock is not None:
                s.sock.close()
        return final
