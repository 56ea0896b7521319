"""Politeness towards speedtest servers: least interval between runs, backoff after refusals.

Public servers block frequent clients; an HTTP 403 or 429 starts an exponential backoff
(honouring ``Retry-After``, RFC 9110 §10.2.3).  Both survive restarts in a small JSON file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from qos.durable import atomic_write_text

#: HTTP statuses by which a server says "you test too often"
BLOCKING_CODES = {403, 429}


@dataclass
class ServerState:
    last_run: float | None = None  # POSIX seconds
    blocked_until: float | None = None
    consecutive_blocks: int = 0


class RunState:
    """Per-server run history in a small JSON file (min interval and backoff survive restarts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.servers: dict[str, ServerState] = {}
        try:
            raw = json.loads(path.read_text())
            for key, value in raw.get("servers", {}).items():
                self.servers[key] = ServerState(**value)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, AttributeError):
            self.servers = {}  # a corrupt file must not block measurements forever

    def get(self, key: str) -> ServerState:
        return self.servers.setdefault(key, ServerState())

    def save(self) -> None:
        body = {"schema_version": 1, "servers": {k: vars(v) for k, v in self.servers.items()}}
        text = json.dumps(body, indent=1, sort_keys=True)
        atomic_write_text(self.path, text, mode=0o600, make_parents=True)


def default_state_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "qos-toolkit" / "speedtest-state.json"


def local_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def skip_reason(server: ServerState, key: str, now: float, min_interval_s: float) -> str | None:
    """Why a run against ``key`` must not start at ``now`` (backoff, min interval), or None."""
    if server.blocked_until is not None and now < server.blocked_until:
        until = local_iso(server.blocked_until)
        return f"backing off: {key} refused us (HTTP 403/429); next try after {until}"
    if server.last_run is not None and now - server.last_run < min_interval_s:
        until = local_iso(server.last_run + min_interval_s)
        return f"min_interval: last run against {key} was too recent; next run after {until}"
    return None


def note_refusals(
    server: ServerState,
    now: float,
    http_errors: Mapping[int, int],
    retry_after_s: float | None,
    *,
    first_s: float,
    longest_s: float,
) -> str | None:
    """Start or extend the backoff if the run was refused; the error to record, or None.

    The wait doubles with each consecutive refused run, from ``first_s`` up to
    ``longest_s``, and is at least the server's ``Retry-After`` (capped at ``longest_s``).
    A run without refusals ends the backoff.
    """
    blocked = {c for c in http_errors if c in BLOCKING_CODES}
    if not blocked:
        server.consecutive_blocks = 0
        server.blocked_until = None
        return None
    server.consecutive_blocks += 1
    wait = min(longest_s, first_s * 2 ** (server.consecutive_blocks - 1))
    if retry_after_s is not None:
        wait = max(wait, min(retry_after_s, longest_s))
    server.blocked_until = now + wait
    codes = ", ".join(str(c) for c in sorted(blocked))
    return f"server refused requests (HTTP {codes}); backing off until {local_iso(now + wait)}"
