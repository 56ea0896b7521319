"""``type = "prometheus"``: an HTTP ``/metrics`` endpoint and/or a node-exporter textfile.

Metric names follow the Prometheus naming guide (base units, ``_total`` for counters,
``_ratio`` for 0…1 fractions):

* ``qos_rtt_seconds{job,collector,target,statistic}`` — min, median, mean, p95 and max of
  the last RTT stream's received probes;
* ``qos_loss_ratio{job,collector,target}`` — lost / sent probes of the last stream;
* ``qos_goodput_bits_per_second{job,collector,target,direction}`` — last throughput test;
* ``qos_measurements_total{collector,status}`` and
  ``qos_measurement_bytes_total{collector}`` (payload bytes the measurements moved);
* ``qos_last_measurement_timestamp_seconds{job,collector,target}``;
* ``qos_store_backlog_records`` — records waiting for the store.

Options: ``listen`` (``"127.0.0.1:9464"`` by default; loopback only unless you say
otherwise; ``""`` disables HTTP), ``textfile`` (a path in node-exporter's textfile
directory, rewritten atomically after every record).  A live view, not durable: counters
start at zero with the agent, as Prometheus expects.  prometheus-client is imported only
when this exporter is configured (``pip install 'qos-toolkit[prometheus]'``).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from qos.errors import ConfigError
from qos.records import Measurement, RttResult, ThroughputResult
from qos_agent.exporters.base import ExporterContext, check_options, check_writable

OPTIONS = ("listen", "textfile")
DEFAULT_LISTEN = "127.0.0.1:9464"


def parse_listen(name: str, text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            f"'{text}' is not HOST:PORT", key=f"exporters.{name}.listen", hint="e.g. 127.0.0.1:9464"
        )
    return host.strip("[]") or "127.0.0.1", int(port)


class PrometheusExporter:
    durable: ClassVar[bool] = False

    def __init__(self, name: str, options: Mapping[str, Any], context: ExporterContext) -> None:
        self.name = name
        listen, self.textfile = self._parse(name, options)
        import prometheus_client as prom

        self._prom = prom
        self.registry = prom.CollectorRegistry(auto_describe=True)
        self._define_metrics(context)
        self._server = None
        self.address: tuple[str, int] | None = None
        if listen is not None:
            host, port = listen
            try:
                server, _thread = prom.start_http_server(port, addr=host, registry=self.registry)
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen on {host}:{port}: {exc}", key=f"exporters.{name}.listen"
                ) from exc
            self._server = server
            self.address = (str(server.server_address[0]), int(server.server_address[1]))
        self._write_textfile()

    @staticmethod
    def _parse(name: str, options: Mapping[str, Any]) -> tuple[tuple[str, int] | None, Path | None]:
        check_options(name, options, OPTIONS)
        try:
            import prometheus_client  # noqa: F401
        except ImportError:
            raise ConfigError(
                "the prometheus exporter needs prometheus-client: "
                "pip install 'qos-toolkit[prometheus]'",
                key=f"exporters.{name}.type",
            ) from None
        listen = str(options.get("listen", DEFAULT_LISTEN))
        textfile = str(options.get("textfile", ""))
        return (
            parse_listen(name, listen) if listen else None,
            Path(textfile).expanduser() if textfile else None,
        )

    @classmethod
    def check(cls, name: str, options: Mapping[str, Any]) -> None:
        """Validate the options (and that the textfile can be written) without listening."""
        _listen, textfile = cls._parse(name, options)
        if textfile is not None:
            check_writable(name, "textfile", textfile)

    def _define_metrics(self, context: ExporterContext) -> None:
        prom, reg = self._prom, self.registry
        scope = ["job", "collector", "target"]
        self.rtt = prom.Gauge(
            "qos_rtt_seconds",
            "Round-trip time of the last probe stream",
            [*scope, "statistic"],
            registry=reg,
        )
        self.loss = prom.Gauge(
            "qos_loss_ratio", "Lost / sent probes of the last probe stream", scope, registry=reg
        )
        self.goodput = prom.Gauge(
            "qos_goodput_bits_per_second",
            "Goodput of the last throughput test (transport payload)",
            [*scope, "direction"],
            registry=reg,
        )
        self.last = prom.Gauge(
            "qos_last_measurement_timestamp_seconds",
            "Start of the last measurement (Unix time)",
            scope,
            registry=reg,
        )
        self.count = prom.Counter(
            "qos_measurements", "Measurements committed", ["collector", "status"], registry=reg
        )
        self.bytes = prom.Counter(
            "qos_measurement_bytes",
            "Payload bytes moved by measurements",
            ["collector"],
            registry=reg,
        )
        backlog = prom.Gauge(
            "qos_store_backlog_records", "Records waiting for the store", registry=reg
        )
        backlog.set_function(lambda: float(context.backlog()))

    def export(self, measurement: Measurement) -> None:
        m = measurement
        job = str(m.labels.get("job", m.labels.get("stream", "")))
        scope = (job, m.collector, m.target)
        self.count.labels(m.collector, str(m.status)).inc()
        self.last.labels(*scope).set(m.started_at.timestamp())
        if isinstance(m.result, RttResult) and m.result.probes:
            self._rtt(scope, m.result)
        elif isinstance(m.result, ThroughputResult):
            self.bytes.labels(m.collector).inc(max(0, m.result.bytes_total))
            if m.result.goodput_bps is not None:
                self.goodput.labels(*scope, m.result.direction).set(m.result.goodput_bps)
        self._write_textfile()

    def _rtt(self, scope: tuple[str, str, str], result: RttResult) -> None:
        probes = result.probes
        rtts = sorted(p.rtt_s for p in probes if p.rtt_s is not None)
        self.loss.labels(*scope).set((len(probes) - len(rtts)) / len(probes))
        sizes = sum((p.size_bytes or 0) for p in probes) + sum(
            (p.size_bytes or 0) for p in probes if p.rtt_s is not None
        )
        self.bytes.labels(scope[1]).inc(sizes)
        if not rtts:
            for stat in ("min", "median", "mean", "p95", "max"):
                self.rtt.labels(*scope, stat).set(float("nan"))
            return
        p95 = rtts[min(len(rtts) - 1, max(0, -(-95 * len(rtts) // 100) - 1))]  # nearest rank
        values = {
            "min": rtts[0],
            "median": statistics.median(rtts),
            "mean": statistics.fmean(rtts),
            "p95": p95,
            "max": rtts[-1],
        }
        for stat, value in values.items():
            self.rtt.labels(*scope, stat).set(value)

    def _write_textfile(self) -> None:
        if self.textfile is not None:
            self.textfile.parent.mkdir(parents=True, exist_ok=True)
            self._prom.write_to_textfile(str(self.textfile), self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
