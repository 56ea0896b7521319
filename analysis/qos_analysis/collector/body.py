"""Bounded reading of a request body: compressed size, inflated size (gzip bombs) and time.

The body is read chunk by chunk; reading stops as soon as a limit is crossed, so a client
can make the collector hold at most ``max_body`` compressed and ``max_inflated`` inflated
bytes.  gzip is inflated incrementally with ``max_length``, never all at once.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_body: int = 8 * 1024 * 1024  # bytes on the wire
    max_inflated: int = 64 * 1024 * 1024  # bytes after gzip
    max_records: int = 10_000
    body_timeout_s: float = 30.0  # whole body must arrive within this time
    header_timeout_s: float = 10.0  # request headers must arrive within this time


class BodyError(Exception):
    """A body that breaks a limit (``status`` 413) or cannot be decoded (400/415)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(
    chunks: AsyncIterator[bytes], encoding: str | None, limits: Limits
) -> tuple[bytes, int]:
    """The inflated body and the number of bytes received."""
    encoding = (encoding or "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise BodyError(415, f"unsupported Content-Encoding {encoding!r} (use gzip or none)")
    inflater = zlib.decompressobj(wbits=31) if encoding == "gzip" else None
    received, out = 0, bytearray()
    async for chunk in chunks:
        received += len(chunk)
        if received > limits.max_body:
            raise BodyError(413, f"body larger than {limits.max_body} bytes")
        if inflater is None:
            out += chunk
            continue
        data = chunk
        while data:
            try:
                piece = inflater.decompress(data, limits.max_inflated - len(out) + 1)
            except zlib.error as exc:
                raise BodyError(400, f"invalid gzip data: {exc}") from None
            out += piece
            if len(out) > limits.max_inflated:
                raise BodyError(413, f"body inflates beyond {limits.max_inflated} bytes")
            data = inflater.unconsumed_tail
    if inflater is not None:
        if not inflater.eof:
            raise BodyError(400, "truncated gzip data")
        out += inflater.flush()
    if len(out) > limits.max_inflated:
        raise BodyError(413, f"body larger than {limits.max_inflated} bytes")
    return bytes(out), received
