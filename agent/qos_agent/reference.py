"""Built-in reference services on loopback, so the agent can measure offline.

The README's first command must run with no network: the agent starts these services in
its own process, bound to ``127.0.0.1`` on ephemeral ports, and jobs name them with
``@reference/<service>`` targets (e.g. ``@reference/tcp``), which are resolved to the real
address just before a job runs.  Each service is one entry in :data:`_SERVICES`: a factory
that starts it and returns its address and a stop function.  Other modules add services
(the STAMP reflector, the HTTP reference server) with one line each.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from qos.errors import ConfigError
from qos.suggest import unknown_name_hint

PREFIX = "@reference/"


@dataclass
class RunningService:
    """A started service: the target string jobs use, and how to stop it."""

    target: str
    stop: Callable[[], None]


#: service name → "module:function"; the function takes ``bind`` and returns RunningService
_SERVICES: dict[str, str] = {
    "tcp": "qos_agent.reference:start_tcp_listener",
    "http": "qos_agent.refserver.server:start_reference_service",
    "stamp": "qos_agent.stamp.reflector:start_reference_reflector",
    "integrity": "qos_agent.refserver.integrity:start_integrity_service",
}


def register_service(name: str, path: str) -> None:
    if name in _SERVICES:
        raise ValueError(f"reference service '{name}' is already registered")
    _SERVICES[name] = path


def service_names() -> list[str]:
    return sorted(_SERVICES)


def start_tcp_listener(bind: str = "127.0.0.1") -> RunningService:
    """A TCP listener that accepts and closes connections (target for ``tcp_connect``).

    The kernel completes the three-way handshake before ``accept``; closing promptly keeps
    the backlog free.  Bound to loopback unless told otherwise.
    """
    import socket  # in the job's process; the daemon itself opens no socket here

    server = socket.create_server((bind, 0), backlog=128)
    server.settimeout(0.2)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, name="qos-reference-tcp", daemon=True)
    thread.start()
    host, port = server.getsockname()[:2]

    def stop() -> None:
        stopping.set()
        thread.join(timeout=2)
        server.close()

    return RunningService(target=f"{host}:{port}", stop=stop)


class ReferenceServices:
    """Starts the requested services lazily and resolves ``@reference/...`` targets.

    A service used by one scheduled job is stopped again by :meth:`release` once the job is
    done, so an idle agent holds no listening threads (each polls a few times a second) and
    no payload buffer (the HTTP service's is 16 MiB); services resolved with ``keep=True``
    (continuous streams) run until :meth:`close`.
    """

    def __init__(self, bind: str = "127.0.0.1") -> None:
        self.bind = bind
        self._running: dict[str, RunningService] = {}
        self._kept: set[str] = set()
        self._lock = threading.Lock()

    def resolve(self, target: str, *, keep: bool = False) -> str:
        """Return ``target`` unchanged, or the address of the named reference service."""
        if not target.startswith(PREFIX):
            return target
        name = target[len(PREFIX) :]
        if keep:
            self._kept.add(name)
        with self._lock:
            if name not in self._running:
                if name not in _SERVICES:
                    raise ConfigError(
                        f"unknown reference service '{name}' in target '{target}' "
                        f"({unknown_name_hint(name, _SERVICES)})"
                    )
                module_name, _, func = _SERVICES[name].partition(":")
                start = getattr(importlib.import_module(module_name), func)
                self._running[name] = start(self.bind)
            return self._running[name].target

    def release(self) -> None:
        """Stop every running service that no continuous stream keeps."""
        with self._lock:
            for name in [n for n in self._running if n not in self._kept]:
                self._running.pop(name).stop()

    def close(self) -> None:
        with self._lock:
            for service in self._running.values():
                service.stop()
            self._running.clear()

    def __enter__(self) -> ReferenceServices:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
