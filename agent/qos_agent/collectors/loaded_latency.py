"""Latency under load (bufferbloat): RTT idle, then during a throughput test.

A probe stream runs for an **idle** period, then again **while** a saturating throughput
test (the native ``iperf3`` collector or ``http_throughput``) fills the bottleneck queue,
starting after the load's warm-up and ending before the load does.  Queueing delay at the
bottleneck shows up as the difference: a deep FIFO in front of a link of rate R filled with
Q bytes adds about Q·8/R seconds (docs/methods.md §6.10: RFC 6349 §4.3 "buffer delay").

Probes (``probe``): ICMP echo when it can run here, else TCP-connect handshakes to an
explicit ``probe_target`` HOST:PORT; or forced (``icmp``, ``stamp``, ``tcp_connect``).  The
record is one :class:`~qos.records.RttResult` holding both series: idle probes first, then
loaded ones, with ``details["phases"]`` naming the sequence-number range of each, so every
raw probe is kept (docs/architecture.md §2.3).  Figures in ``details``:

* ``idle_rtt_median_s``, ``loaded_rtt_median_s`` — medians of received probes
  (RFC 7679 §5.2 even-N rule), and ``latency_increase_s`` = loaded − idle;
* ``responsiveness_rpm`` = 60 s / loaded median RTT — round trips per minute under working
  conditions, the unit of the IETF "Responsiveness under Working Conditions" draft (which
  aggregates several probe kinds with trimmed means; ours is one probe kind, the median);
* the load: collector, direction, goodput, bytes, status (``load_*``), and
  ``bytes_on_wire`` (load payload + probe bytes) for the daily byte budget.

The record is ``ok`` only if the load test succeeded and both phases have replies: a
"loaded" series measured while the load had failed would silently report idle latency.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Mapping
from typing import Any

from qos.errors import ParameterError
from qos.metrics import loss_ratio, rtt_median_s
from qos.records import Measurement, ProbeSample, RttResult, Status, ThroughputResult
from qos_agent.collectors import get
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec

_PROBES = ("icmp", "stamp", "tcp_connect")
_LEAD_IN_S = 0.5  # after the warm-up, time for the load's setup (control round trips)
_TAIL_S = 0.5  # probes stop this long before the load's end


class LoadedLatencyCollector(Collector):
    """RTT idle vs under a saturating load; latency increase and responsiveness (RPM)."""

    name = "loaded_latency"
    description = "latency under load: RTT idle and during a throughput test, RPM"
    heavy = True
    param_specs = (
        ParamSpec(
            "load",
            "str",
            "iperf3",
            "throughput test that loads the line",
            choices=("iperf3", "http_throughput"),
        ),
        ParamSpec(
            "direction", "str", "download", "direction of the load", choices=("download", "upload")
        ),
        ParamSpec("streams", "int", 4, "parallel streams of the load", minimum=1, maximum=64),
        ParamSpec(
            "duration",
            "duration",
            10,
            "measured load time (whole seconds for iperf3)",
            minimum=2,
            maximum=300,
        ),
        ParamSpec(
            "warmup",
            "duration",
            2,
            "load warm-up before loaded probes start",
            minimum=0,
            maximum=60,
        ),
        ParamSpec(
            "idle", "duration", 5, "idle probing time before the load", minimum=0.5, maximum=300
        ),
        ParamSpec("interval", "duration", 0.1, "time between probes", minimum=0.01, maximum=10),
        ParamSpec(
            "probe",
            "str",
            "auto",
            "probe kind (auto: ICMP if permitted, else tcp_connect to probe_target)",
            choices=("auto", *_PROBES),
        ),
        ParamSpec(
            "probe_target",
            "str",
            "",
            "probe destination (default: the load "
            "server's host; tcp_connect and stamp need HOST:PORT)",
        ),
        ParamSpec(
            "probe_timeout",
            "duration",
            2.0,
            "a probe reply later than this is lost",
            minimum=0.01,
            maximum=30,
        ),
        ParamSpec(
            "congestion",
            "str",
            "",
            "TCP congestion control of the iperf3 load, e.g. cubic (default: hosts' own)",
        ),
        ParamSpec(
            "timeout", "duration", 10, "load test's stall/connect timeout", minimum=0.5, maximum=120
        ),
    )

    def resolve(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Each parameter, then the load generator's own parameters (and the ``congestion``
        rule), so that a config ``check-config`` accepts cannot fail when the job runs."""
        params = super().resolve(raw)
        get(params["load"]).resolve(_load_params(params))
        return params

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        clock = context.clock
        attempt = self.begin(target, params, context)

        def finish(
            status: Status, error: str | None, result: RttResult | None = None
        ) -> Measurement:
            return attempt.finish(status=status, result=result, error=error)

        probe_name, probe_target, problem = choose_probe(
            params["probe"], params["probe_target"], target
        )
        if problem:
            return finish(Status.ERROR, problem)
        prober = get(probe_name)
        load = get(params["load"])
        load_params = load.resolve(_load_params(params))
        interval = params["interval"]

        def probe_run(seconds: float) -> Measurement:
            count = max(1, math.floor(seconds / interval + 1e-9))
            raw = {"count": count, "interval": interval, "timeout": params["probe_timeout"]}
            return prober.measure(probe_target, prober.resolve(raw), context)

        idle_offset_s = (clock.monotonic_ns() - attempt.start_ns) / 1e9
        idle = probe_run(params["idle"])
        if context.stop.is_set():
            return finish(
                Status.ERROR,
                "stopped by the agent before the load phase",
                _combine(idle, None, idle_offset_s, 0.0, None, params, probe_name, probe_target),
            )

        if not isinstance(idle.result, RttResult) or idle.result.received == 0:
            # nothing to compare against: do not spend the user's bytes on the load
            status = idle.status if idle.status is not Status.OK else Status.TIMEOUT
            return finish(
                status,
                f"no idle probe replies, load not started: {idle.error}",
                _combine(idle, None, idle_offset_s, 0.0, None, params, probe_name, probe_target),
            )

        box: dict[str, Measurement] = {}

        def run_load() -> None:
            box["load"] = load.measure(target, load_params, context)

        loader = threading.Thread(target=run_load, name="loaded-latency-load", daemon=True)
        loader.start()
        lead_in = params["warmup"] + _LEAD_IN_S
        loaded: Measurement | None = None
        if not context.stop.wait(lead_in) and loader.is_alive():
            loaded_offset_s = (clock.monotonic_ns() - attempt.start_ns) / 1e9
            loaded = probe_run(params["duration"] - _LEAD_IN_S - _TAIL_S)
        else:
            loaded_offset_s = 0.0
        loader.join(timeout=params["duration"] + params["warmup"] + 4 * params["timeout"] + 60)
        load_m = box.get("load")
        result = _combine(
            idle, loaded, idle_offset_s, loaded_offset_s, load_m, params, probe_name, probe_target
        )
        if load_m is None:
            return finish(Status.ERROR, "the load test did not finish in time", result)
        if load_m.status is not Status.OK:
            return finish(
                Status.ERROR,
                f"load test ({params['load']}) failed: {load_m.status.value}: {load_m.error}",
                result,
            )
        if loaded is None:
            return finish(Status.ERROR, "the load ended before loaded probing began", result)
        if not isinstance(loaded.result, RttResult) or loaded.result.received == 0:
            status = loaded.status if loaded.status is not Status.OK else Status.TIMEOUT
            return finish(status, f"no loaded probe replies: {loaded.error}", result)
        return finish(Status.OK, None, result)


def choose_probe(
    requested: str, probe_target: str, load_target: str
) -> tuple[str, str, str | None]:
    """(probe collector, its target, problem or None) — "whichever can run"."""
    explicit_port = _has_port(probe_target)
    if requested == "auto":
        reasons = get("icmp").check()
        if not reasons:
            requested = "icmp"
        elif explicit_port:
            requested = "tcp_connect"
        else:
            return (
                "",
                "",
                (
                    "no latency probe can run: ICMP is not permitted here ("
                    + "; ".join(reasons)
                    + ") and no probe_target HOST:PORT was given "
                    "for tcp_connect or stamp"
                ),
            )
    else:
        reasons = get(requested).check()
        if reasons:
            return "", "", f"probe '{requested}' cannot run here: " + "; ".join(reasons)
    if requested == "icmp":
        return requested, _host(probe_target or load_target), None
    if not explicit_port:
        return "", "", f"probe '{requested}' needs probe_target as HOST:PORT"
    return requested, probe_target, None


def _host(target: str) -> str:
    text = target.strip()
    if "://" in text:
        text = text.split("://", 1)[1].split("/", 1)[0]
    if text.startswith("["):
        return text[1:].partition("]")[0]
    return text.partition(":")[0] if text.count(":") == 1 else text


def _has_port(target: str) -> bool:
    text = target.strip()
    if text.startswith("["):
        return "]:" in text
    return text.count(":") == 1 and text.rpartition(":")[2].isdigit()


def _load_params(params: Mapping[str, Any]) -> dict[str, Any]:
    common = {
        "streams": params["streams"],
        "duration": params["duration"],
        "timeout": params["timeout"],
    }
    if params["load"] == "iperf3":
        # no busy retries: a retry would shift the load away from the loaded probes
        return {
            **common,
            "reverse": params["direction"] == "download",
            "omit": params["warmup"],
            "busy_retries": 0,
            "congestion": params["congestion"],
        }
    if params["congestion"]:
        raise ParameterError("parameter 'congestion' applies only to load = iperf3")
    return {**common, "direction": params["direction"], "warmup": params["warmup"]}


def _shifted(m: Measurement | None, offset_s: float, first_seq: int) -> list[ProbeSample]:
    if m is None or not isinstance(m.result, RttResult):
        return []
    return [
        dataclasses.replace(p, seq=first_seq + i, send_offset_s=offset_s + p.send_offset_s)
        for i, p in enumerate(sorted(m.result.probes, key=lambda p: p.seq))
    ]


def _combine(
    idle: Measurement,
    loaded: Measurement | None,
    idle_offset_s: float,
    loaded_offset_s: float,
    load_m: Measurement | None,
    params: Mapping[str, Any],
    probe_name: str,
    probe_target: str,
) -> RttResult:
    idle_probes = _shifted(idle, idle_offset_s, 0)
    loaded_probes = _shifted(loaded, loaded_offset_s, len(idle_probes))
    idle_rtts = [p.rtt_s for p in idle_probes]
    loaded_rtts = [p.rtt_s for p in loaded_probes]
    idle_median = rtt_median_s(idle_rtts)
    loaded_median = rtt_median_s(loaded_rtts)
    details: dict[str, Any] = {
        "probe": probe_name,
        "probe_target": probe_target,
        "phases": {
            "idle": {"first_seq": 0, "count": len(idle_probes), "start_offset_s": idle_offset_s},
            "loaded": {
                "first_seq": len(idle_probes),
                "count": len(loaded_probes),
                "start_offset_s": loaded_offset_s if loaded is not None else None,
            },
        },
        "idle_rtt_median_s": idle_median,
        "loaded_rtt_median_s": loaded_median,
        "idle_loss_ratio": loss_ratio(idle_rtts),
        "loaded_loss_ratio": loss_ratio(loaded_rtts),
        "latency_increase_s": (
            loaded_median - idle_median
            if loaded_median is not None and idle_median is not None
            else None
        ),
        "idle_rpm": 60.0 / idle_median if idle_median else None,
        "responsiveness_rpm": 60.0 / loaded_median if loaded_median else None,
        "load": params["load"],
        "load_direction": params["direction"],
        "load_streams": params["streams"],
    }
    probe_bytes = 0
    for m in (idle, loaded):
        if m is not None and m.result is not None:
            on_wire = m.result.details.get("bytes_on_wire")
            if isinstance(on_wire, int):
                probe_bytes += on_wire
    load_bytes = 0
    if load_m is not None:
        details["load_status"] = load_m.status.value
        details["load_error"] = load_m.error
        details["load_measurement_id"] = load_m.id
        if isinstance(load_m.result, ThroughputResult):
            load_bytes = load_m.result.bytes_total
            details["load_goodput_bps"] = load_m.result.goodput_bps
            details["load_bytes_total"] = load_bytes
            details["load_details"] = {
                k: v
                for k, v in load_m.result.details.items()
                if isinstance(v, int | float | str | bool)
            }
    details["bytes_on_wire"] = load_bytes + probe_bytes
    first = idle.result if isinstance(idle.result, RttResult) else None
    return RttResult(
        probes=(*idle_probes, *loaded_probes),
        interval_s=params["interval"],
        timeout_s=params["probe_timeout"],
        packet_size_bytes=first.packet_size_bytes if first is not None else None,
        details=details,
    )
