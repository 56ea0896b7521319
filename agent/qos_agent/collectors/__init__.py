"""Collector registry: an explicit table, imported lazily (docs/architecture.md §4).

Adding a collector = one module in this package + one line in :data:`_REGISTRY`.  Modules
are imported only when their collector is used, so ``qos-agent`` stays light and a
collector whose optional dependency is missing still appears in ``qos-agent list`` with the
reason it cannot run.
"""

from __future__ import annotations

import importlib

from qos.errors import UnknownCollectorError
from qos.suggest import unknown_name_hint
from qos_agent.collectors.base import Collector

#: collector name → "module:Class"
_REGISTRY: dict[str, str] = {}
#: collectors whose class says ``heavy = True`` (kept here so the scheduler can ask without
#: importing the module; a test checks the two agree)
_HEAVY: set[str] = set()


def register(name: str, path: str, *, heavy: bool = False) -> None:
    """Register a collector; a duplicate name is a programming error and raises."""
    if name in _REGISTRY:
        raise ValueError(f"collector '{name}' is already registered")
    _REGISTRY[name] = path
    if heavy:
        _HEAVY.add(name)


register("icmp", "qos_agent.collectors.icmp:IcmpCollector")
register("tcp_connect", "qos_agent.collectors.tcp_connect:TcpConnectCollector")
register("iperf3", "qos_agent.collectors.iperf3:Iperf3Collector", heavy=True)
register("loaded_latency", "qos_agent.collectors.loaded_latency:LoadedLatencyCollector", heavy=True)
register("stamp", "qos_agent.collectors.stamp:StampCollector")
register("dns", "qos_agent.collectors.dns:DnsCollector")
register("http", "qos_agent.collectors.http:HttpCollector")
register(
    "http_throughput", "qos_agent.collectors.http_throughput:HttpThroughputCollector", heavy=True
)
register("speedtest", "qos_agent.collectors.speedtest:SpeedtestCollector", heavy=True)
register("dns_integrity", "qos_agent.collectors.dns_integrity:DnsIntegrityCollector")
register("http_integrity", "qos_agent.collectors.http_integrity:HttpIntegrityCollector")
register("port_reachability", "qos_agent.collectors.port_reachability:PortReachabilityCollector")
register("tls_integrity", "qos_agent.collectors.tls_integrity:TlsIntegrityCollector")


def names() -> list[str]:
    return sorted(_REGISTRY)


def is_heavy(name: str) -> bool:
    """Whether a collector is heavy (runs alone, counts against byte budgets)."""
    return name in _HEAVY


def get(name: str) -> Collector:
    """A fresh collector instance by name; unknown names raise with a did-you-mean hint."""
    try:
        path = _REGISTRY[name]
    except KeyError:
        raise UnknownCollectorError(
            f"unknown collector '{name}' ({unknown_name_hint(name, _REGISTRY)})"
        ) from None
    module_name, _, class_name = path.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if cls.name != name:
        raise ValueError(f"{path} declares name '{cls.name}', registered as '{name}'")
    instance: Collector = cls()
    return instance
