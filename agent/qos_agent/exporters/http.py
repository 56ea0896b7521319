"""``type = "http"``: push records to a fleet collector (``qos collector serve``).

Options: ``url`` (required, e.g. ``"https://collector.example:8443/v1/measurements"``),
``token_file`` (required: a file holding this agent's bearer token, read at each push so a
new token takes effect without a restart), ``timeout`` (default ``"10s"``), ``batch``
(records per request, default 100), ``ca_file`` (a PEM bundle to trust, for a collector with
a private certificate), ``insecure`` (allow plain ``http://`` to a non-loopback host; the
token would cross the network in clear).

Durable: the delivery cursor (:mod:`qos_agent.delivery`) advances only when the collector
has acknowledged a batch (every id accepted or already stored), so an outage or an agent
restart loses nothing, and a re-sent batch is stored once (the collector deduplicates by
id).  A record the collector rejects for good (its reason is logged) counts as delivered, so
one bad record cannot stall the exporter.  Standard library only (urllib, ssl, gzip); each
request is bounded by ``timeout``, and failed attempts back off in the delivery loop.
"""

from __future__ import annotations

import gzip
import json
import logging
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from qos.errors import ConfigError, UnitError
from qos.netaddr import is_loopback_host
from qos.records import Measurement
from qos.serialization import measurement_to_dict
from qos.units import parse_duration_s
from qos_agent.exporters.base import ExporterContext, bool_option, check_options, path_option

OPTIONS = ("url", "token_file", "timeout", "batch", "ca_file", "insecure")
log = logging.getLogger(__name__)


class HttpExportError(Exception):
    """The collector did not acknowledge a batch (retried later)."""


class HttpExporter:
    durable: ClassVar[bool] = True

    def __init__(self, name: str, options: Mapping[str, Any], context: ExporterContext) -> None:
        self.name = name
        self.url, self.token_file, self.timeout_s, self.batch, ca_file = self._parse(name, options)
        self._ssl = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    @staticmethod
    def _parse(name: str, options: Mapping[str, Any]) -> tuple[str, Path, float, int, Path | None]:
        check_options(name, options, OPTIONS, required=("url", "token_file"))
        url = options["url"]
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                "must be an http:// or https:// URL",
                key=f"exporters.{name}.url",
                hint='url = "https://collector.example:8443/v1/measurements"',
            )
        if (
            parts.scheme == "http"
            and not is_loopback_host(parts.hostname)
            and not bool_option(name, options, "insecure")
        ):
            raise ConfigError(
                "plain http to another host would send the token in clear",
                key=f"exporters.{name}.url",
                hint="use https://, or set insecure = true to accept the risk",
            )
        token = path_option(name, options, "token_file", "~/.config/qos/collector-token")
        try:
            timeout = parse_duration_s(options.get("timeout", "10s"))
        except (UnitError, ValueError, TypeError) as exc:
            raise ConfigError(str(exc), key=f"exporters.{name}.timeout") from exc
        batch = options.get("batch", 100)
        if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= 10_000:
            raise ConfigError("must be an integer from 1 to 10000", key=f"exporters.{name}.batch")
        ca = options.get("ca_file")
        return url, token, timeout, batch, None if ca is None else Path(ca).expanduser()

    @classmethod
    def check(cls, name: str, options: Mapping[str, Any]) -> None:
        """Validate the options and that the token file is readable; no request is sent."""
        _url, token, _timeout, _batch, ca = cls._parse(name, options)
        for key, path in (("token_file", token), ("ca_file", ca)):
            if path is not None and not path.is_file():
                raise ConfigError(f"{path} is not a readable file", key=f"exporters.{name}.{key}")

    def export(self, measurement: Measurement) -> None:
        self.export_batch([measurement])

    def export_batch(self, measurements: Sequence[Measurement]) -> None:
        """Push ``measurements``; returns only when the collector acknowledged them all."""
        for start in range(0, len(measurements), self.batch):
            self._push(measurements[start : start + self.batch])

    def _push(self, records: Sequence[Measurement]) -> None:
        body = gzip.compress(
            json.dumps([measurement_to_dict(m) for m in records], allow_nan=False).encode()
        )
        try:
            token = self.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise HttpExportError(f"cannot read the token file: {exc}") from None
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            },
        )
        status, reply = self._send(request)
        if status == 200 or status == 422:
            self._acknowledged(records, status, reply)
            return
        raise HttpExportError(f"collector answered {status}: {reply.get('error', '')}")

    def _send(self, request: urllib.request.Request) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s, context=self._ssl) as r:
                return r.status, _json(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _json(exc.read())
        except (OSError, ValueError) as exc:  # refused, unreachable, timeout, TLS
            raise HttpExportError(f"cannot reach {self.url}: {exc}") from None

    def _acknowledged(
        self, records: Sequence[Measurement], status: int, reply: dict[str, Any]
    ) -> None:
        known = set(reply.get("accepted") or []) | set(reply.get("duplicate") or [])
        rejected = {r.get("id"): r.get("reason") for r in reply.get("rejected") or []}
        missing = [m.id for m in records if m.id not in known and m.id not in rejected]
        if missing and status == 200:
            raise HttpExportError(f"collector did not acknowledge {len(missing)} record(s)")
        for rid, reason in rejected.items():
            log.error(
                "exporter %s: collector rejected record %s for good: %s", self.name, rid, reason
            )
        if status == 422 and not rejected:
            log.error("exporter %s: collector refused the batch: %s", self.name, reply.get("error"))

    def close(self) -> None:
        return None


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
