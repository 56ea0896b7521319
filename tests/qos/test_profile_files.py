"""Profile files that cannot be read as text: a clear error naming the file, never a
traceback and never a hang (binary data, a directory, a FIFO, no permission)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qos.errors import ProfileError
from qos.profiles import get_profile
from qos.profiles.loader import load_profile_file

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("QOS_")},
    "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in (".", "agent", "analysis")),
}


def _binary(tmp: Path) -> Path:
    path = tmp / "binary.toml"
    path.write_bytes(bytes(range(256)) * 4)  # 0x80… is not UTF-8
    return path


def _nul(tmp: Path) -> Path:
    path = tmp / "nul.toml"
    path.write_bytes(b'schema_version = 1\n\x00\x00title = "x"\n')
    return path


def _directory(tmp: Path) -> Path:
    path = tmp / "dir.toml"
    path.mkdir()
    return path


def _fifo(tmp: Path) -> Path:
    path = tmp / "fifo.toml"
    os.mkfifo(path)
    return path


CASES = {
    "binary": (_binary, "not a text file"),
    "nul": (_nul, "not valid TOML"),
    "directory": (_directory, "not a regular file"),
    "fifo": (_fifo, "not a regular file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unreadable_profile_names_the_file(case: str, tmp_path: Path) -> None:
    make, fragment = CASES[case]
    path = make(tmp_path)
    with pytest.raises(ProfileError) as caught:
        load_profile_file(path)
    assert caught.value.file == str(path)
    assert fragment in str(caught.value)
    with pytest.raises(ProfileError, match=str(path)):
        get_profile(str(path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_profile_without_read_permission_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.toml"
    path.write_text("schema_version = 1\n", encoding="utf-8")
    path.chmod(0)
    with pytest.raises(ProfileError, match=r"secret\.toml.*cannot read profile"):
        load_profile_file(path)


@pytest.mark.parametrize("case", ["binary", "fifo"])
def test_cli_show_and_list_exit_2_naming_the_file(case: str, tmp_path: Path) -> None:
    make, fragment = CASES[case]
    path = make(tmp_path)
    qos = [sys.executable, "-m", "qos_analysis.cli", "profiles"]
    env = {**ENV, "QOS_PROFILE_PATH": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "x")}
    for argv in ([*qos, "show", str(path)], [*qos, "list"]):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert proc.stderr.startswith(f"qos: error: {path}: {fragment}"), proc.stderr
