"""A profile file → validated :class:`~qos.profiles.model.Profile` objects, one per variant."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qos.errors import ProfileError
from qos.profiles.catalogue import PROFILE_SCHEMA_VERSION
from qos.profiles.model import Profile
from qos.profiles.objectives import load_objectives
from qos.profiles.reader import Ctx
from qos.profiles.sections import (
    load_campaign,
    load_defaults,
    load_parameters,
    load_periods,
    load_source,
)
from qos.profiles.tariff import load_tariff

_TOP_KEYS = {
    "schema_version",
    "title",
    "description",
    "source",
    "defaults",
    "periods",
    "parameters",
    "campaign",
    "tariff",
    "objectives",
    "variants",
}
_VARIANT_KEYS = {"title", "description", "objectives", "defaults", "source"}


def parse_profiles(data: Mapping[str, Any], *, name: str, path: str = "") -> dict[str, Profile]:
    """Validate a parsed TOML document; returns ``{profile id: Profile}``."""
    ctx = Ctx(path or name)
    if "schema_version" not in data:
        raise ctx.error(
            "missing required key",
            key="schema_version",
            hint=f"add 'schema_version = {PROFILE_SCHEMA_VERSION}'",
        )
    version = data["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ctx.error(f"must be a positive integer, got {version!r}", key="schema_version")
    if version > PROFILE_SCHEMA_VERSION:
        raise ctx.error(
            f"profile schema_version {version} is newer than this qos-toolkit supports "
            f"({PROFILE_SCHEMA_VERSION})",
            key="schema_version",
            hint="upgrade qos-toolkit to use this profile",
        )
    ctx.check_keys(data, _TOP_KEYS, "")
    if "source" not in data:
        raise ctx.error(
            "missing required table [source] (document, edition, clause, verified)", key="source"
        )
    source = load_source(data["source"], ctx, "source")
    periods = load_periods(data.get("periods", {}), ctx)
    params = load_parameters(data.get("parameters", {}), ctx)
    campaign = load_campaign(data["campaign"], ctx) if "campaign" in data else None
    tariff = load_tariff(data["tariff"], ctx, params) if "tariff" in data else None
    defaults = load_defaults(data.get("defaults", {}), ctx, "defaults", {"window_s": None})
    title = ctx.string(data, "title", "")
    description = ctx.string(data, "description", "", required=False)
    common: dict[str, Any] = {
        "periods": periods,
        "parameters": params,
        "campaign": campaign,
        "tariff": tariff,
        "path": path,
        "schema_version": version,
    }

    has_obj, has_var = "objectives" in data, "variants" in data
    if has_obj == has_var:
        raise ctx.error(
            "a profile has both [[objectives]] and [variants.<name>]; keep one"
            if has_obj
            else "a profile needs [[objectives]] or [variants.<name>] with objectives",
            key="objectives",
        )
    if has_obj:
        objectives = load_objectives(data["objectives"], "objectives", ctx, params, periods, source)
        return {
            name: Profile(
                id=name,
                title=title,
                source=source,
                objectives=objectives,
                description=description,
                **defaults,
                **common,
            )
        }
    profiles: dict[str, Profile] = {}
    variants = ctx.table(data["variants"], "variants")
    if not variants:
        raise ctx.error("no variants defined", key="variants")
    for vname, raw in variants.items():
        key = f"variants.{vname}"
        table = ctx.table(raw, key)
        ctx.check_keys(table, _VARIANT_KEYS, key)
        vsource = (
            load_source(table["source"], ctx, f"{key}.source") if "source" in table else source
        )
        vdefaults = load_defaults(table.get("defaults", {}), ctx, f"{key}.defaults", defaults)
        if "objectives" not in table:
            raise ctx.error("missing required key", key=f"{key}.objectives")
        objectives = load_objectives(
            table["objectives"], f"{key}.objectives", ctx, params, periods, vsource
        )
        vtitle = ctx.string(table, "title", key, required=False, default=f"{title} — {vname}")
        profiles[f"{name}/{vname}"] = Profile(
            id=f"{name}/{vname}",
            title=vtitle,
            source=vsource,
            objectives=objectives,
            description=ctx.string(table, "description", key, required=False, default=description),
            **vdefaults,
            **common,
        )
    return profiles


def load_profile_file(path: str | Path) -> dict[str, Profile]:
    """Read and validate one profile file; errors name the file, the key and a fix."""
    file = Path(path)
    if file.exists() and not file.is_file():  # a directory, FIFO or device: never opened
        raise ProfileError(
            "not a regular file", file=str(file), hint="a profile is a UTF-8 TOML text file"
        )
    try:
        with file.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ProfileError("no such profile file", file=str(file)) from None
    except OSError as exc:
        raise ProfileError(
            f"cannot read profile: {exc.strerror or exc}",
            file=str(file),
            hint="check that the file exists and is readable",
        ) from None
    except UnicodeDecodeError as exc:
        raise ProfileError(
            f"not a text file: byte {exc.start} is not UTF-8",
            file=str(file),
            hint="a profile is a UTF-8 TOML text file",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"not valid TOML: {exc}", file=str(file)) from None
    name = file.name.removesuffix(".toml")
    return parse_profiles(data, name=name, path=str(file))
