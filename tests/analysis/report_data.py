"""Data sets for the report tests, written through the real store/export code paths.

* :func:`fixture_dir` — the notebook fixture (two agents, one day, lossy evening, speed tests);
* :func:`hostile_case` — a store whose agent ids and targets, and a profile whose title,
  source and clause carry ``<script>``, ``</style>``, ``{{ }}``, ANSI escapes, bidi overrides
  and a 10 kB name.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np

from tests.analysis.notebook_fixture import write_fixture
from tests.analysis.synthetic import T0, rtt_measurement, write_store

ESC = "\x1b"
RLO = "\u202e"
HOSTILE = f"<script>alert(1)</script></style>{{{{ 7*7 }}}} {ESC}[31mRED{ESC}[0m {RLO}evil |`x`"
LONG = "L" * 10_000

HOSTILE_PROFILE = """\
schema_version = 1
title = "<script>alert('title')</script></style>{{ 7*7 }} \\u001b[31mRED\\u001b[0m \\u202eevil"

[source]
document = "Doc <img src=x onerror=alert(1)> | `code` **bold**"
edition = "\\u001b]0;pwned\\u0007 2026"
clause = "§ 1 </style><script>alert(2)</script> {{ config }}"
verified = false

[defaults]
window = "all"

[[objectives]]
id = "loss"
title = "Loss <b>bold</b> | pipe `tick` \\u202e"
metric = "loss_ratio"
limit = "1e-3"
min_samples = 100
clause = "Table <script>x</script> | 1"
note = "note \\u001b[2J clear"

[[objectives]]
id = "p95"
metric = "rtt"
statistic = "percentile"
percentile = "95%"
limit = "50ms"
min_samples = 100
"""


def fixture_dir(root: Path) -> Path:
    return write_fixture(root / "fixture")


def hostile_case(root: Path) -> tuple[Path, Path]:
    """(store, profile file) full of hostile strings."""
    rng = np.random.default_rng(7)
    records = [
        rtt_measurement(
            rng,
            T0 + timedelta(minutes=10 * k),
            100,
            agent_id=agent,
            target=target,
            base_rtt_s=0.02,
            jitter_s=0.005,
            loss=0.01,
        )
        for k in range(6)
        for agent, target in ((HOSTILE, HOSTILE), ("agent-" + LONG, "198.18.0.9"))
    ]
    store = write_store(root / "hostile.sqlite", records, {HOSTILE: "Europe/Berlin"})
    profile = root / "hostile.toml"
    profile.write_text(HOSTILE_PROFILE, encoding="utf-8")
    return store, profile
