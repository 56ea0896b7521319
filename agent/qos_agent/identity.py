"""The agent's identity and time zone, with privacy by default.

The agent id is 128 random bits created once and kept in the data directory: it links a
device's records together without revealing a host name, user, address or location.
The IANA time zone is recorded so regulators can evaluate peak hours in local time; it is
configured or read from the host (``TZ``, ``/etc/timezone``, ``/etc/localtime``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qos.durable import atomic_write_text
from qos.errors import ConfigError


def resolve_agent_id(configured: str, data_dir: Path) -> str:
    """``configured`` unless it is ``"auto"``; then a random id persisted in ``data_dir``."""
    if configured != "auto":
        return configured
    id_file = data_dir / "agent-id"
    try:
        existing = id_file.read_text(encoding="utf-8").strip()
        if existing:
            return existing
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot read the agent id: {exc}", file=str(id_file)) from exc
    # 128 random bits as 32 hex digits, the form of a UUID4's hex without its fixed version
    # bits (and without the uuid module, which the long-running daemon need not hold)
    new_id = os.urandom(16).hex()
    try:
        atomic_write_text(id_file, new_id + "\n", mode=0o600, make_parents=True)
    except OSError as exc:
        raise ConfigError(f"cannot store the agent id: {exc}", file=str(id_file)) from exc
    return new_id


def resolve_timezone(configured: str) -> str:
    """A valid IANA zone name: the configured one, or the host's, or ``"UTC"``."""
    if configured != "auto":
        _validate(configured)
        return configured
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return name
    return "UTC"


def _validate(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone '{name}'",
            key="agent.timezone",
            hint="use an IANA name such as 'Europe/Berlin'",
        ) from None
