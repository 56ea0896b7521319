"""Helpers for the field-resilience tests: a small tmpfs that can really fill up."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from qos.config import AgentConfig, JobConfig, parse_config


def tmpfs_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount/umount not installed"
    return None


@contextlib.contextmanager
def small_tmpfs(directory: Path, size: str = "2m") -> Iterator[Path]:
    """A real file system of ``size`` bytes at ``directory`` (unmounted afterwards)."""
    directory.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield directory
    finally:
        if subprocess.run(["umount", str(directory)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(directory)], capture_output=True)


def fill(directory: Path) -> Path:
    """Fill the file system holding ``directory`` with another file until ENOSPC."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            chunk = b"\0" * size
            while True:
                try:
                    os.write(fd, chunk)
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler


def agent_config(tmp_path: Path, store: Path, **store_keys: object) -> AgentConfig:
    doc: dict = {
        "agent": {"id": "field-agent", "timezone": "UTC"},
        "store": {"path": str(store), **store_keys},
    }
    return parse_config(doc, file="test")


def tcp_job(port: int, count: int = 200, **keys: object) -> JobConfig:
    return JobConfig(
        name="tcp",
        collector="tcp_connect",
        target=f"127.0.0.1:{port}",
        params={"count": count, "interval": "1ms", "timeout": "200ms"},
        **keys,
    )


@contextlib.contextmanager
def listening() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0), backlog=1024) as server:
        yield server.getsockname()[1]
