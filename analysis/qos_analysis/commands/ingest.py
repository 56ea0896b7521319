"""``qos ingest PATHS... --into DATASET``: store exports carried on files, quarantine bad ones."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qos.text_safety import neutralize


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ingest",
        help="store exports (JSONL, export directories, SQLite stores) into a dataset",
        description="Validate and store records exactly once; a file with bad records is "
        "copied to DATASET/quarantine/ with a .reason.txt. Exit 2 when anything was "
        "quarantined.",
    )
    p.add_argument("paths", nargs="+", type=Path, help="files or export directories")
    p.add_argument("--into", required=True, type=Path, help="dataset directory")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qos_analysis.ingest import ingest

    results = ingest(list(args.paths), args.into)
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        for r in results:
            line = (
                f"{neutralize(r.path)}: {r.accepted} stored, {r.duplicate} duplicate, "
                f"{r.rejected} rejected"
            )
            if r.quarantined:
                line += f"; quarantined as {neutralize(r.quarantined)}"
            print(line)
            for reason in r.reasons[:5]:
                print(f"  {neutralize(reason)}")
    return 2 if any(r.quarantined for r in results) else 0
