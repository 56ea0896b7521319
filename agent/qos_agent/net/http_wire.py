"""HTTP/1.1 framing of the reference protocol: request heads, response heads, upload reply.

The throughput collector speaks HTTP/1.1 (RFC 9112) on raw sockets (no ``http.client``
buffering in the data path) and hands the raw response head to the pure
:func:`parse_response_head`, so garbage from a server becomes a clear :class:`ProtocolError`
instead of a hang or a misleading figure.  The reply to ``POST /upload`` is written by the
reference server with :func:`upload_reply_body` and read back with
:func:`parse_upload_reply`, so both ends share one definition.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 16 * 1024


class ProtocolError(Exception):
    """The server's reply is not what the reference protocol allows."""


@dataclass(frozen=True, slots=True)
class ResponseHead:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names
    head_bytes: int  # length on the wire, including the blank line that ends it

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        return int(value) if value is not None else None

    @property
    def keep_alive(self) -> bool:
        return "close" not in self.headers.get("connection", "").lower()


@dataclass(frozen=True, slots=True)
class BaseUrl:
    host: str
    port: int
    path_prefix: str  # "" or "/something" without trailing slash

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_base_url(target: str) -> BaseUrl:
    """``http://host:port[/prefix]`` or ``host:port`` → :class:`BaseUrl` (ValueError if bad)."""
    text = target.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme != "http":
        raise ValueError(f"target {target!r}: only http:// is supported (got {parts.scheme}://)")
    if not parts.hostname:
        raise ValueError(f"target {target!r} has no host")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise ValueError(f"target {target!r}: {exc}") from None
    return BaseUrl(host=parts.hostname, port=port, path_prefix=parts.path.rstrip("/"))


def request_head(
    method: str, path: str, host_header: str, *, content_length: int | None = None
) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host_header}",
        "User-Agent: qos-toolkit",
        "Accept-Encoding: identity",
        "Connection: keep-alive",
    ]
    if content_length is not None:
        lines += ["Content-Type: application/octet-stream", f"Content-Length: {content_length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def parse_response_head(raw: bytes) -> ResponseHead:
    """Parse a status line and headers (without the final blank line); ProtocolError if bad."""
    try:
        text = raw.decode("iso-8859-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise ProtocolError(str(exc)) from None
    lines = text.split("\r\n")
    status_line = lines[0]
    parts = status_line.split(" ", 2)
    if (
        len(parts) < 2
        or not parts[0].startswith("HTTP/1.")
        or not parts[1].isdigit()
        or len(parts[1]) != 3
    ):
        raise ProtocolError(f"invalid HTTP status line {status_line[:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ProtocolError(f"invalid HTTP header line {line[:60]!r}")
        headers[name.lower()] = value.strip()
    length = headers.get("content-length")
    if length is not None and (not length.isdigit() or len(length) > 19):
        raise ProtocolError(f"invalid Content-Length {length[:30]!r}")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise ProtocolError("chunked responses are not part of the reference protocol")
    return ResponseHead(
        status=int(parts[1]),
        reason=parts[2] if len(parts) > 2 else "",
        headers=headers,
        head_bytes=len(raw) + 4,
    )


def read_response_head(recv: Callable[[int], bytes], pending: bytearray) -> ResponseHead:
    """Read with ``recv`` until a complete head; body bytes that came along stay in ``pending``.

    ``recv`` is the socket's ``recv`` (or a counting wrapper).  Raises ProtocolError for
    garbage or an oversized head, ConnectionError on EOF, and the socket's TimeoutError
    when the server is silent.
    """
    while True:
        end = pending.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(pending[:end])
            del pending[: end + 4]
            return parse_response_head(head)
        prefix = bytes(pending[:5])
        if not b"HTTP/".startswith(prefix) and not prefix.startswith(b"HTTP/"):
            raise ProtocolError(f"reply does not start with HTTP/ (starts {bytes(pending[:40])!r})")
        if len(pending) > MAX_HEAD_BYTES:
            raise ProtocolError(f"no end of HTTP head within {MAX_HEAD_BYTES} bytes")
        chunk = recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by server before a complete reply")
        pending += chunk


def upload_reply_body(received: int) -> bytes:
    """The JSON body answering ``POST /upload``: how many body bytes the server read."""
    return json.dumps({"bytes_received": received}).encode()


def parse_upload_reply(body: bytes) -> int:
    """The byte count of an upload reply body; ProtocolError if it is not one."""
    try:
        return int(json.loads(body)["bytes_received"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f'upload reply is not {{"bytes_received": n}}: {exc}') from None
