"""Incompressible download payload sent from one pre-generated random block.

A compressible payload (zeros, repeated text) overstates throughput on any path that
compresses (PPP, some VPNs, WAN optimisers), so the server sends random bytes.  They are
generated once (16 MiB, far beyond the history window of common link compressors: DEFLATE
32 KiB, LZ4/zstd default windows ≤ 8 MiB) and reused by every request, each starting at a
random offset, in large ``send`` calls.  ``os.sendfile`` from a temporary file was measured
too and was slower on loopback here (10-14 vs 17-32 Gbit/s for one stream), so the block
stays in memory — in an anonymous ``mmap``, so closing the payload returns the block to the
operating system at once (a heap block of this size may stay in the process after ``free``).
"""

from __future__ import annotations

import mmap
import os
import random
import socket
import time

DEFAULT_BLOCK_BYTES = 16 * 1024 * 1024
_MAX_SEND_CHUNK = 4 * 1024 * 1024


class TransferAborted(Exception):
    """A transfer stopped early; ``transferred`` bytes had been moved by then."""

    def __init__(self, transferred: int, reason: str) -> None:
        super().__init__(reason)
        self.transferred = transferred
        self.reason = reason


class RandomPayload:
    """A block of random bytes shared read-only by all requests."""

    def __init__(self, block_bytes: int = DEFAULT_BLOCK_BYTES) -> None:
        if block_bytes <= 0:
            raise ValueError("block_bytes must be positive")
        self.block_bytes = block_bytes
        self._map = mmap.mmap(-1, block_bytes)
        for start in range(0, block_bytes, 1 << 20):
            end = min(block_bytes, start + (1 << 20))
            self._map[start:end] = os.urandom(end - start)
        self._view = memoryview(self._map)

    def close(self) -> None:
        self._view.release()
        self._map.close()

    def send(self, sock: socket.socket, count: int, *, deadline_ns: int | None = None) -> int:
        """Send ``count`` random bytes on ``sock``; returns ``count`` or raises TransferAborted.

        The socket's timeout is the idle limit: no progress for that long aborts, and the
        bytes already sent are reported with the exception.
        """
        view = self._view
        offset = random.randrange(self.block_bytes)
        sent = 0
        while sent < count:
            if deadline_ns is not None and time.monotonic_ns() > deadline_ns:
                raise TransferAborted(sent, "request exceeded its maximum duration")
            chunk = min(count - sent, self.block_bytes - offset, _MAX_SEND_CHUNK)
            try:
                n = sock.send(view[offset : offset + chunk])
            except TimeoutError:
                raise TransferAborted(sent, "client stopped reading (timeout)") from None
            except OSError as exc:
                raise TransferAborted(sent, f"send failed: {exc.strerror or exc}") from exc
            if n == 0:
                raise TransferAborted(sent, "connection closed by client")
            sent += n
            offset = (offset + n) % self.block_bytes
        return sent
