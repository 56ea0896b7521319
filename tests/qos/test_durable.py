"""Crash-safe replacement of files (:mod:`qos.durable`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from qos.durable import atomic_write, atomic_write_bytes, atomic_write_text, make_dirs


def test_replaces_content_with_the_mode_asked_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    atomic_write_text(target, "new", mode=0o600)
    assert target.read_text() == "new"
    assert (target.stat().st_mode & 0o777) == 0o600 & ~_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failing_writer_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    target.write_text("previous export")

    def broken(tmp: Path) -> None:
        tmp.write_text("half of the new")
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv"]


def test_make_parents_creates_the_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c.bin"
    atomic_write_bytes(target, b"\x00\x01", make_parents=True)
    assert target.read_bytes() == b"\x00\x01"
    make_dirs(tmp_path / "a" / "b")  # existing folders are fine
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "missing" / "x", b"")


def test_on_a_full_filesystem_the_old_file_survives(tmp_path: Path) -> None:
    """A real ENOSPC on a 1 MiB tmpfs: the replacement fails and the old content stays."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8) for a small tmpfs")
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        target = mnt / "agent-id"
        atomic_write_text(target, "keep me\n")
        filler = mnt / "filler"
        with pytest.raises(OSError), filler.open("wb") as fh:
            while True:
                fh.write(b"\xff" * 65536)
                fh.flush()
        with pytest.raises(OSError):
            atomic_write_bytes(target, b"x" * 512 * 1024)
        assert target.read_text() == "keep me\n"
        assert sorted(p.name for p in mnt.iterdir()) == ["agent-id", "filler"]
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
