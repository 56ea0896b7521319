"""Where shipped and user profiles live, and lookup of a profile by id or file."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from qos.errors import ProfileError
from qos.profiles.loader import load_profile_file
from qos.profiles.model import Profile
from qos.suggest import unknown_name_hint


def profile_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where shipped and user profiles live, first match wins.

    ``$QOS_PROFILE_PATH`` (``os.pathsep``-separated), the user's data directory
    (``…/qos-toolkit/profiles``), profiles packaged as ``qos/data/profiles`` and, in a source
    checkout, ``configs/profiles``.
    """
    from qos.paths import data_dir

    env = os.environ if environ is None else environ
    dirs = [Path(p) for p in env.get("QOS_PROFILE_PATH", "").split(os.pathsep) if p]
    dirs.append(data_dir(env) / "profiles")
    qos_dir = Path(__file__).resolve().parents[1]  # .../qos (this file is qos/profiles/…)
    dirs.append(qos_dir / "data" / "profiles")
    dirs.append(qos_dir.parent / "configs" / "profiles")
    return [d for d in dirs if d.is_dir()]


def available_profiles(dirs: Iterable[Path] | None = None) -> dict[str, Profile]:
    """Every profile id found in the profile directories (earlier directories win)."""
    found: dict[str, Profile] = {}
    for directory in profile_dirs() if dirs is None else dirs:
        for file in sorted(Path(directory).glob("*.toml")):
            for pid, profile in load_profile_file(file).items():
                found.setdefault(pid, profile)
    return found


def get_profile(ref: str | Path, *, dirs: Iterable[Path] | None = None) -> Profile:
    """A profile by id (``y1541/class0``), by file path, or ``path.toml#variant``."""
    text = str(ref)
    file_part, _, variant = text.partition("#")
    candidate = Path(file_part)
    if file_part.endswith(".toml") or candidate.is_file():
        profiles = load_profile_file(candidate)
        if variant:
            key = f"{candidate.name.removesuffix('.toml')}/{variant}"
            if key not in profiles:
                raise ProfileError(
                    f"no variant '{variant}'",
                    file=str(candidate),
                    hint=unknown_name_hint(key, profiles),
                )
            return profiles[key]
        if len(profiles) == 1:
            return next(iter(profiles.values()))
        raise ProfileError(
            "file defines several profiles; choose one with '#variant'",
            file=str(candidate),
            hint=", ".join(sorted(profiles)),
        )
    catalogue = available_profiles(dirs)
    if text not in catalogue:
        raise ProfileError(f"unknown profile '{text}'", hint=unknown_name_hint(text, catalogue))
    return catalogue[text]
