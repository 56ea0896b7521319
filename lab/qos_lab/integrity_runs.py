"""Run the four integrity collectors N times in one process (inside a lab namespace).

``python -m qos_lab.integrity_runs REFERENCE_URL --resolver ADDR:PORT --runs N
[--only NAME ...] [--param NAME.KEY=VALUE ...]`` prints one JSON line per measurement:
collector, status, error, outcome and findings.  One process for all runs keeps a
100-run clean-path check cheap on a shared machine.
"""

from __future__ import annotations

import argparse
import json

NAMES = ("dns_integrity", "http_integrity", "port_reachability", "tls_integrity")


def main(argv: list[str] | None = None) -> int:
    from qos_agent import collectors
    from qos_agent.collectors.base import MeasureContext, run_collector

    parser = argparse.ArgumentParser(prog="python -m qos_lab.integrity_runs")
    parser.add_argument("reference")
    parser.add_argument("--resolver", required=True)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", action="append", choices=NAMES)
    parser.add_argument("--param", action="append", default=[], metavar="NAME.KEY=VALUE")
    args = parser.parse_args(argv)
    params: dict[str, dict[str, str]] = {name: {} for name in NAMES}
    params["dns_integrity"]["resolver"] = args.resolver
    for item in args.param:
        key, _, value = item.partition("=")
        name, _, param = key.partition(".")
        params[name][param] = value
    context = MeasureContext(agent_id="lab")
    for _ in range(args.runs):
        for name in args.only or NAMES:
            m = run_collector(collectors.get(name), args.reference, params[name], context)
            details = m.result.details if m.result is not None else {}
            print(
                json.dumps(
                    {
                        "collector": name,
                        "status": str(m.status),
                        "error": m.error,
                        "outcome": getattr(m.result, "outcome", None),
                        "findings": list(details.get("findings", [])),
                    }
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
