"""Fetch the integrity reference's description of itself (``GET /manifest``).

The manifest lists the ports the reference listens on, its DNS zone server and its TLS
service with the certificate's SPKI fingerprint.  A reference that cannot be reached makes
the test fail (status ``unreachable``/``timeout``): no finding is ever inferred from an
absent reference.
"""

from __future__ import annotations

import errno
import http.client
import json
from typing import Any

from qos.records import Status
from qos_agent.collectors.http import split_url

_MAX_MANIFEST_BYTES = 1 << 16
_UNREACHABLE = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNRESET}


class ReferenceUnavailable(Exception):
    """The reference could not be asked; ``status`` is the failed measurement's status."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status


def reference_host(url: str) -> str:
    """The host part of a reference URL (``http://HOST:PORT``); ValueError if unusable."""
    return split_url(url)[1]


def fetch_manifest(url: str, timeout_s: float) -> dict[str, Any]:
    """The manifest as a dict; :class:`ReferenceUnavailable` if it cannot be had."""
    try:
        scheme, host, port, _, _ = split_url(url)
    except ValueError as exc:
        raise ReferenceUnavailable(Status.ERROR, f"bad reference URL: {exc}") from None
    if scheme != "http":
        raise ReferenceUnavailable(Status.ERROR, "the reference URL must be http://HOST:PORT")
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", "/manifest", headers={"Accept-Encoding": "identity"})
        response = conn.getresponse()
        body = response.read(_MAX_MANIFEST_BYTES + 1)
    except TimeoutError:
        raise ReferenceUnavailable(Status.TIMEOUT, "reference manifest: no answer") from None
    except (OSError, http.client.HTTPException) as exc:
        status = (
            Status.UNREACHABLE
            if isinstance(exc, OSError) and exc.errno in _UNREACHABLE
            else Status.ERROR
        )
        raise ReferenceUnavailable(status, f"reference manifest: {exc}") from None
    finally:
        conn.close()
    if response.status != 200 or len(body) > _MAX_MANIFEST_BYTES:
        raise ReferenceUnavailable(
            Status.ERROR, f"reference manifest: HTTP {response.status}, {len(body)} bytes"
        )
    try:
        manifest = json.loads(body)
    except ValueError as exc:
        raise ReferenceUnavailable(Status.ERROR, f"reference manifest is not JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise ReferenceUnavailable(Status.ERROR, "reference manifest is not a JSON object")
    return manifest
