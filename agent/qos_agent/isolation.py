"""Run work in a short-lived child process, so the long-lived daemon stays small.

A collector imports what it needs (``http.client`` and ``ssl``, the reference HTTP server,
a throughput engine …) and a run leaves its allocations behind; in a process that lives
for months all of it stays resident.  The daemon therefore forks a child for each job (and
for the config check, which imports every configured collector): the child does the work
exactly as the daemon would, writes its answer to a pipe and exits, and what it imported
and allocated goes with it.  Forking the already-loaded daemon costs about a millisecond —
no new interpreter, no re-reading of the config.

Nothing is lost to a child that misbehaves: :func:`run_in_child` reports a child that
exits without an answer, dies from a signal or outlives its time limit (it is then killed
with ``SIGKILL``), and the caller turns that into a recorded failure.  The child ignores
``SIGINT`` and ``SIGHUP`` (a terminal sends them to the whole process group; the daemon
decides what they mean) and gets ``SIGTERM`` when the caller's ``interrupt`` is set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: how often the parent checks on a child that has not written for a while
POLL_S = 0.25


@dataclass(frozen=True)
class ChildResult:
    """What a child answered (``output``, when it exited with status 0), or why not."""

    output: bytes | None
    problem: str | None = None
    timed_out: bool = False


def fork_available() -> bool:
    return hasattr(os, "fork")


def run_in_child(
    work: Callable[[], bytes],
    *,
    timeout_s: float,
    interrupt: threading.Event | None = None,
    on_interrupt: Callable[[], None] | None = None,
    fork_guard: AbstractContextManager[object] | None = None,
) -> ChildResult:
    """Run ``work()`` in a forked child and return the bytes it produced.

    ``on_interrupt`` runs in the child when the parent passes on ``interrupt``
    (``SIGTERM``); without it the child stops at once.  ``fork_guard`` is entered just
    before the fork and left by the parent right after it (also when the fork fails): it
    puts aside what the child must not inherit, such as an open SQLite connection.
    """
    read_fd, write_fd = os.pipe()
    try:
        with fork_guard if fork_guard is not None else contextlib.nullcontext():
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child's coverage is not collected
                os.close(read_fd)
                _child(work, write_fd, on_interrupt)
    except BaseException:
        os.close(read_fd)
        os.close(write_fd)
        raise
    os.close(write_fd)
    try:
        return _collect(pid, read_fd, timeout_s, interrupt)
    finally:
        os.close(read_fd)


def _child(work: Callable[[], bytes], fd: int, on_interrupt: Callable[[], None] | None) -> None:
    """The child's whole life: never returns into the caller's stack."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        if on_interrupt is not None:
            signal.signal(signal.SIGTERM, lambda _signum, _frame: on_interrupt())
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        view = memoryview(work())
        while view:
            view = view[os.write(fd, view) :]
        code = 0
    except BaseException:
        with contextlib.suppress(BaseException):
            log.exception("the child process failed")
    finally:
        os._exit(code)


def _collect(pid: int, fd: int, timeout_s: float, interrupt: threading.Event | None) -> ChildResult:
    """Read the child's answer until it exits; kill it past ``timeout_s``."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    signalled = timed_out = False
    status: int | None = None
    while True:
        if select.select([fd], [], [], POLL_S)[0]:
            data = os.read(fd, 1 << 16)
            if data:
                chunks.append(data)
                continue
            break  # end of file: the child has exited (or is exiting)
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:  # exited, but a grandchild may hold the pipe open: take what is there
            status = raw
            chunks += _read_available(fd)
            break
        if interrupt is not None and interrupt.is_set() and not signalled:
            os.kill(pid, signal.SIGTERM)
            signalled = True
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            timed_out = True
            break
    if status is None:
        _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if timed_out:
        return ChildResult(None, f"killed at its time limit of {timeout_s:g} s", timed_out=True)
    if code < 0:
        return ChildResult(None, f"killed by signal {-code} ({_signal_name(-code)})")
    if code != 0:
        return ChildResult(None, f"exited with status {code}")
    return ChildResult(b"".join(chunks))


def _read_available(fd: int) -> list[bytes]:
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return chunks
        if not data:
            return chunks
        chunks.append(data)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"
