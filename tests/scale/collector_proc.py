"""Run ``qos collector serve`` as a real process on a loopback ephemeral port, and push to it
with urllib (the client the agent uses)."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from qos.records import Measurement
from qos.serialization import measurement_to_dict

REPO = Path(__file__).resolve().parents[2]
ENV = {
    **os.environ,
    "PYTHONPATH": f"{REPO}:{REPO / 'agent'}:{REPO / 'analysis'}",
}


def qos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qos_analysis.cli", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


class Collector:
    def __init__(self, dataset: Path, tokens: Path, *extra: str, port: int = 0) -> None:
        self.args = [
            sys.executable,
            "-m",
            "qos_analysis.cli",
            "collector",
            "serve",
            "--dataset",
            str(dataset),
            "--tokens",
            str(tokens),
            *extra,
        ]
        self.port = port
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> Collector:
        self.proc = subprocess.Popen(
            [*self.args, "--port", str(self.port)],
            env=ENV,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if "listening on" in line or not line:
                break
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"collector did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()


def docs(records: list[Measurement]) -> list[dict[str, Any]]:
    return [measurement_to_dict(m) for m in records]


def post(
    url: str,
    body: bytes | list[dict[str, Any]],
    token: str | None,
    *,
    gzipped: bool = False,
    encoding: str | None = None,
    timeout: float = 60,
) -> tuple[int, dict[str, Any]]:
    """POST a batch; ``gzipped`` compresses it, ``encoding`` only labels bytes as given."""
    data = body if isinstance(body, bytes) else json.dumps(body, allow_nan=True).encode()
    headers = {"Content-Type": "application/json"}
    if encoding:
        headers["Content-Encoding"] = encoding
    if gzipped:
        data = gzip.compress(data)
        headers["Content-Encoding"] = "gzip"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"{url}/v1/measurements", data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        return exc.code, json.loads(payload) if payload else {}


def get(url: str, path: str) -> tuple[int, str]:
    with urllib.request.urlopen(f"{url}{path}", timeout=30) as resp:
        return resp.status, resp.read().decode()
