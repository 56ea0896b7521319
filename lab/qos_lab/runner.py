"""Run one collector and print its Measurement as JSON (for use inside a lab namespace).

Sockets belong to the network namespace of the process that creates them, so a test
process in the host namespace cannot measure the lab directly; :meth:`Lab.run_collector`
starts ``python -m qos_lab.runner COLLECTOR TARGET --param k=v ...`` via
``ip netns exec`` instead and parses the printed record (``qos.serialization``).
Parameter errors exit with status 2 and the message on stderr.
"""

from __future__ import annotations

import argparse
import sys

from qos import serialization
from qos.errors import QosError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qos_lab.runner")
    parser.add_argument("collector")
    parser.add_argument("target")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    from qos_agent import collectors
    from qos_agent.collectors.base import MeasureContext, run_collector

    raw: dict[str, str] = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"--param needs KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        raw[key] = value
    try:
        collector = collectors.get(args.collector)
        measurement = run_collector(collector, args.target, raw, MeasureContext(agent_id="lab"))
    except QosError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(serialization.dumps(measurement))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
