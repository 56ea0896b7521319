"""Incompressible download payload streamed with ``sendfile`` (issue 5, item 1).

A compressible payload (zeros, repeated text) overstates throughput on any path that
compresses (PPP, some VPNs, WAN optimisers), so the server sends random bytes.  They are
generated once into an unlinked temporary file and sent with ``os.sendfile`` so the
kernel copies from the page cache: no per-request generation and no Python-level copy.
The block is 16 MiB, far beyond the history window of common link compressors (DEFLATE
32 KiB, LZ4/zstd default windows ≤ 8 MiB), and each request starts at a random offset.
"""

from __future__ import annotations

import os
import random
import selectors
import socket
import tempfile
import time

DEFAULT_BLOCK_BYTES = 16 * 1024 * 1024
_MAX_SENDFILE_CHUNK = 4 * 1024 * 1024


class TransferAborted(Exception):
    """A transfer stopped early; ``transferred`` bytes had been moved by then."""

    def __init__(self, transferred: int, reason: str) -> None:
        super().__init__(reason)
        self.transferred = transferred
        self.reason = reason


class RandomPayload:
    """A block of random bytes in an unlinked temporary file, shared by all requests."""

    def __init__(self, block_bytes: int = DEFAULT_BLOCK_BYTES) -> None:
        if block_bytes <= 0:
            raise ValueError("block_bytes must be positive")
        self.block_bytes = block_bytes
        self._file = tempfile.TemporaryFile(prefix="qos-refserver-")  # noqa: SIM115 (lives as long as the server)
        step = 1 << 20
        for start in range(0, block_bytes, step):
            self._file.write(os.urandom(min(step, block_bytes - start)))
        self._file.flush()
        self._fd = self._file.fileno()

    def close(self) -> None:
        self._file.close()

    def send(self, sock: socket.socket, count: int, *, deadline_ns: int | None = None) -> int:
        """Send ``count`` random bytes on ``sock``; returns ``count`` or raises TransferAborted.

        Uses explicit offsets (``pread`` semantics) so concurrent requests never share a file
        position.  The socket's timeout is the idle limit: no progress for that long aborts.
        """
        timeout = sock.gettimeout()
        offset = random.randrange(self.block_bytes)
        sent = 0
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_WRITE)
            while sent < count:
                if deadline_ns is not None and time.monotonic_ns() > deadline_ns:
                    raise TransferAborted(sent, "request exceeded its maximum duration")
                chunk = min(count - sent, self.block_bytes - offset, _MAX_SENDFILE_CHUNK)
                try:
                    n = os.sendfile(sock.fileno(), self._fd, offset, chunk)
                except BlockingIOError:
                    if not selector.select(timeout):
                        raise TransferAborted(sent, "client stopped reading (timeout)") from None
                    continue
                except OSError as exc:
                    raise TransferAborted(sent, f"send failed: {exc.strerror or exc}") from exc
                if n == 0:
                    raise TransferAborted(sent, "connection closed by client")
                sent += n
                offset = (offset + n) % self.block_bytes
        return sent
