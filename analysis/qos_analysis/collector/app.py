"""The collector's Starlette application.

``POST /v1/measurements`` (``Authorization: Bearer TOKEN``, body JSON, gzip allowed):

* 401 — no, unknown or revoked token; 403 — a record of another agent than the token's;
* 413 — body, inflated body or record count over the limits; 408 — body too slow;
  400/415 — undecodable gzip or an unsupported Content-Encoding;
* 422 — nothing in the batch is valid (malformed JSON, every record rejected, empty);
* 503 — the dataset cannot be written now (disk full …): nothing of the batch is
  acknowledged, the agent retries;
* 200 — ``{"accepted": [ids], "duplicate": [ids], "rejected": [{index, id, reason}]}``:
  the valid records of a mixed batch are stored; a record already in the dataset (or
  repeated in the batch) is reported duplicate and not stored again.

The response is sent after the batch is durably on disk, so an acknowledged record survives
a crash.  ``GET /healthz`` answers ``ok``; ``GET /metrics`` is the Prometheus exposition.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from qos.errors import StoreError
from qos_analysis.collector.body import BodyError, Limits, read_body
from qos_analysis.collector.intake import BatchError, parse_batch, validate
from qos_analysis.collector.tokens import ReloadingTokens
from qos_analysis.dataset import DatasetWriter


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    records: Counter
    received: Counter
    latency: Histogram

    @classmethod
    def create(cls) -> Metrics:
        reg = CollectorRegistry()
        return cls(
            reg,
            Counter("qos_collector_requests", "Pushes by HTTP status", ["status"], registry=reg),
            Counter("qos_collector_records", "Records by outcome", ["outcome"], registry=reg),
            Counter("qos_collector_received_bytes", "Body bytes received", registry=reg),
            Histogram("qos_collector_push_seconds", "Time to handle a push", registry=reg),
        )


def create_app(dataset: Path, tokens: Path, limits: Limits | None = None) -> Starlette:
    writer = DatasetWriter(dataset)
    keys = ReloadingTokens(tokens)
    lim = limits or Limits()
    metrics = Metrics.create()

    async def push(request: Request) -> Response:
        started = time.perf_counter()
        status, payload = await _handle(request, writer, keys, lim, metrics)
        metrics.requests.labels(str(status)).inc()
        metrics.latency.observe(time.perf_counter() - started)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(payload, status_code=status, headers=headers)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/v1/measurements", push, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
        ]
    )


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def _handle(
    request: Request,
    writer: DatasetWriter,
    keys: ReloadingTokens,
    limits: Limits,
    metrics: Metrics,
) -> tuple[int, dict[str, Any]]:
    token = _bearer(request)
    agent = keys.current().agent_for(token) if token else None
    if agent is None:
        return 401, {"error": "missing, unknown or revoked token"}
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_body:
        return 413, {"error": f"body larger than {limits.max_body} bytes"}
    try:
        body, received = await asyncio.wait_for(
            read_body(request.stream(), request.headers.get("content-encoding"), limits),
            timeout=limits.body_timeout_s,
        )
        metrics.received.inc(received)
        records = parse_batch(body, limits.max_records)
    except TimeoutError:
        return 408, {"error": f"body not received within {limits.body_timeout_s:g} s"}
    except (BodyError, BatchError) as exc:
        return exc.status, {"error": exc.reason}
    intake = await run_in_threadpool(validate, records, agent_id=agent)
    if intake.foreign_agents:
        return 403, {"error": f"this token may submit only records of agent {agent!r}"}
    rejected = [r.as_dict() for r in intake.rejected]
    metrics.records.labels("rejected").inc(len(rejected))
    if not intake.valid:
        return 422, {"error": "no valid record in the batch", "rejected": rejected}
    try:
        report = await run_in_threadpool(writer.write_records, intake.valid)
    except (OSError, StoreError) as exc:  # disk full, unwritable dataset: nothing acknowledged
        return 503, {"error": f"cannot store the batch now, retry later: {exc}"}
    metrics.records.labels("accepted").inc(len(report.accepted))
    metrics.records.labels("duplicate").inc(len(report.duplicate))
    return 200, {"accepted": report.accepted, "duplicate": report.duplicate, "rejected": rejected}
