"""A fixed fixture scored against every shipped profile: the golden verdict tables.

``python -m tests.analysis.golden --write`` regenerates ``tests/data/golden/*.csv`` after a
deliberate change of behaviour; ``tests/analysis/test_golden_verdicts.py`` asserts that
scoring the fixture gives byte-identical tables, so a refactor of the scoring engine
cannot change a verdict unnoticed.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from qos.profiles.discovery import available_profiles
from qos_analysis import load, score
from tests.analysis.synthetic import (
    T0,
    bnetza_campaign,
    failed_rtt,
    rtt_measurement,
    throughput,
    timing,
    write_store,
)

ROOT = Path(__file__).resolve().parents[2]
PROFILES = [ROOT / "configs" / "profiles"]
GOLDEN = ROOT / "tests" / "data" / "golden"
PARAMS = {
    "download_max": "100Mbit/s",
    "download_normal": "80Mbit/s",
    "download_min": "50Mbit/s",
    "upload_max": "40Mbit/s",
    "upload_normal": "30Mbit/s",
    "upload_min": "15Mbit/s",
    "required_download": "25Mbit/s",
    "required_upload": "3Mbit/s",
    "subscribed_download": "100Mbit/s",
    "advertised_download": "100Mbit/s",
    "advertised_upload": "40Mbit/s",
}


def fixture_measurements() -> list:
    """Two agents, ICMP/STAMP streams over two days, failures, HTTP and speed tests."""
    rng = np.random.default_rng(20261206)
    out = []
    for hour in range(0, 48, 3):
        start = T0 + timedelta(hours=hour)
        out.append(rtt_measurement(rng, start, 400, base_rtt_s=0.03, jitter_s=0.01, loss=0.002))
        out.append(
            rtt_measurement(
                rng,
                start,
                300,
                agent_id="agent-b",
                collector="stamp",
                base_rtt_s=0.12,
                jitter_s=0.05,
                loss=0.01,
                one_way=True,
            )
        )
        out.append(timing(start + timedelta(minutes=5), 0.2 + 0.01 * (hour % 7)))
    out.append(failed_rtt(T0 + timedelta(hours=7), count=50))
    out += bnetza_campaign([95e6] * 12 + [70e6] * 3 + [85e6] * 15)
    out += bnetza_campaign([35e6] * 28 + [10e6] * 2, direction="upload")
    out.append(throughput(T0 + timedelta(hours=20), None))
    return out


def golden_tables(tmp: Path) -> dict[str, str]:
    """Profile id → its verdict table as CSV text."""
    data = load(write_store(tmp / "golden.sqlite", fixture_measurements(), {"agent-a": "UTC"}))
    tables = {}
    for profile_id, profile in sorted(available_profiles(PROFILES).items()):
        params = {k: v for k, v in PARAMS.items() if k in profile.parameters}
        verdicts: pd.DataFrame = score(data, profile, params=params)
        tables[profile_id] = verdicts.to_csv(index=False, float_format="%.12g")
    return tables


def golden_name(profile_id: str) -> str:
    return profile_id.replace("/", "__") + ".csv"


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the golden files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tables = golden_tables(Path(tmp))
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for profile_id, text in tables.items():
        path = GOLDEN / golden_name(profile_id)
        if args.write:
            path.write_text(text, encoding="utf-8")
        print(f"{profile_id}: {text.count(chr(10)) - 1} verdicts -> {path}")


if __name__ == "__main__":
    main()
