"""Per-agent bearer tokens, stored hashed.

A token is 32 random bytes (``secrets.token_urlsafe``), shown once when created.  The file
keeps only its SHA-256: with 256 bits of entropy a fast hash is enough (no password-style
stretching is needed to resist guessing), and a stolen file reveals no usable token.
The file is JSON ``{"agents": {AGENT_ID: {"sha256": HEX, "revoked": bool}}}``, written
atomically with mode 0600.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from qos.durable import atomic_write_text
from qos.errors import ConfigError


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenFile:
    path: Path

    def _read(self) -> dict[str, dict[str, object]]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            agents = data["agents"]
            if not isinstance(agents, dict):
                raise TypeError("'agents' is not an object")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"unreadable token file: {exc}", file=str(self.path)) from None
        return agents

    def _write(self, agents: dict[str, dict[str, object]]) -> None:
        text = json.dumps({"agents": agents}, indent=1, sort_keys=True)
        atomic_write_text(self.path, text, mode=0o600, make_parents=True)

    def add(self, agent_id: str) -> str:
        """A new token for ``agent_id`` (replacing any earlier one); returned once."""
        if not agent_id or len(agent_id) > 256 or not agent_id.isprintable():
            raise ConfigError(f"invalid agent id {agent_id!r}")
        token = secrets.token_urlsafe(32)
        agents = self._read()
        agents[agent_id] = {"sha256": _digest(token), "revoked": False}
        self._write(agents)
        return token

    def revoke(self, agent_id: str) -> None:
        agents = self._read()
        if agent_id not in agents:
            raise ConfigError(f"no token for agent {agent_id!r}", file=str(self.path))
        agents[agent_id]["revoked"] = True
        self._write(agents)

    def load(self) -> TokenIndex:
        return TokenIndex(
            {
                str(entry["sha256"]): agent
                for agent, entry in self._read().items()
                if not entry.get("revoked")
            }
        )


@dataclass(frozen=True)
class TokenIndex:
    """Active token digests → agent id."""

    by_digest: dict[str, str]

    def agent_for(self, token: str) -> str | None:
        # A dictionary lookup by digest: timing can reveal at most a prefix of the SHA-256
        # of a 256-bit random secret, which says nothing about any token.
        return self.by_digest.get(_digest(token))


class ReloadingTokens:
    """The token file, re-read when it changes (``token revoke`` takes effect at once)."""

    def __init__(self, path: Path) -> None:
        self.file = TokenFile(path)
        self._stamp: tuple[int, int] | None = None
        self._index = TokenIndex({})
        self.current()

    def current(self) -> TokenIndex:
        try:
            st = self.file.path.stat()
            stamp = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            stamp = (0, 0)
        if stamp != self._stamp:
            self._index = self.file.load()
            self._stamp = stamp
        return self._index
