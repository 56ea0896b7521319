"""What a configuration stores and what leaves the device (docs/privacy.md).

:data:`COLLECTORS` and :data:`EXPORTERS` describe, per type, what a record holds and which
traffic or data goes where; :func:`report` applies them to one configuration for
``qos-agent privacy``.  Every string taken from the config is neutralised for the terminal.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from qos.config import AgentConfig
from qos.netaddr import is_loopback_host
from qos.text_safety import neutralize as neutralise


@dataclass(frozen=True)
class Disclosure:
    stores: str  # what the record keeps (in the local store)
    sends: str  # what goes over the network, to whom, and what that peer learns


COMMON = (
    "a random measurement id, the agent id, collector, target, start time (UTC), "
    "duration, status, error text, parameters and labels"
)

COLLECTORS: dict[str, Disclosure] = {
    "icmp": Disclosure(
        "per probe: send offset, RTT, reply TTL, packet size, duplicates",
        "ICMP echo requests with a fixed pattern payload to the target, which learns this "
        "device's public address and the probe rate",
    ),
    "tcp_connect": Disclosure(
        "per probe: TCP handshake time",
        "TCP handshakes (no payload) to HOST:PORT; the target sees the public address",
    ),
    "stamp": Disclosure(
        "per probe: RTT, one-way delays when both clocks are synchronised, reflector "
        "residence time, TTLs, loss direction",
        "STAMP/TWAMP-Light test packets (timestamps, sequence numbers) to the reflector",
    ),
    "dns": Disclosure(
        "the queried name, query types, the resolver's address, answer codes and timings",
        "DNS queries for the configured name to the configured resolver, which sees the "
        "name and this device's address",
    ),
    "http": Disclosure(
        "URL, phase timings (DNS, connect, TLS, first byte, download), HTTP status, TLS "
        "version, remote address, body size; never the body or response headers",
        "one HTTP(S) GET with User-Agent 'qos-toolkit' (configurable) to the URL's server",
    ),
    "http_throughput": Disclosure(
        "bytes per stream per interval, goodput, retransmission counters",
        "bulk random bytes to/from the target HTTP server",
    ),
    "iperf3": Disclosure(
        "bytes per stream per interval, goodput, UDP loss and jitter",
        "iperf3 control messages (including a random cookie) and bulk test data to the "
        "iperf3 server",
    ),
    "loaded_latency": Disclosure(
        "idle and loaded RTT probes and the load's throughput figures",
        "the probe traffic of its probe collector plus the load's bulk traffic",
    ),
    "speedtest": Disclosure(
        "goodput, bytes per interval, the chosen server and speedtest-cli's own figures",
        "with target 'auto', speedtest.net's config and server list are fetched (Ookla "
        "sees the public address; the coordinates sent are 0,0), then bulk test traffic "
        "to the chosen public server; with a mini-server URL, only to that server",
    ),
    "dns_integrity": Disclosure(
        "per test name: the answers of the system resolver and of the reference resolver, "
        "TTLs, AD bits, findings",
        "DNS queries for the configured test names to the system (or given) resolver and "
        "to the reference resolver; both see the names",
    ),
    "http_integrity": Disclosure(
        "the request as the reference server received it, response hash, findings",
        "one HTTP request with fixed headers to the reference server (and any proxy on the "
        "path), which sees the public address",
    ),
    "port_reachability": Disclosure(
        "per port: open, blocked, reset or rewritten, with the evidence",
        "TCP connects and small UDP echo datagrams to the reference server's ports",
    ),
    "tls_integrity": Disclosure(
        "certificate issuer and SPKI fingerprint, protocol version, SNI seen, findings",
        "one TLS handshake with the reference server's name as SNI to the reference server",
    ),
}

EXPORTERS: dict[str, Disclosure] = {
    "jsonl": Disclosure("", "full records (probes included) to a local file"),
    "http": Disclosure(
        "",
        "full records (probes included), gzip-compressed JSON batches, to the configured "
        "collector URL with this agent's bearer token; the collector operator sees the "
        "records and the public address",
    ),
    "parquet": Disclosure("", "full records (probes included) to local Parquet files"),
    "prometheus": Disclosure(
        "",
        "summary gauges and counters labelled by job, collector and target, served over "
        "HTTP to anyone who can reach the listen address, and/or written to a textfile",
    ),
}


def _is_loopback(host: str) -> bool:
    if "://" in host:
        host = urllib.parse.urlsplit(host).hostname or ""
    elif host.count(":") == 1 or host.startswith("["):
        host = host.rsplit(":", 1)[0]
    name = host.strip("[]")
    return name == "" or name.startswith("@reference/") or is_loopback_host(name)


def report(config: AgentConfig) -> list[str]:
    """Lines describing what this configuration stores and sends where."""
    c = config
    lines = [
        f"config: {neutralise(c.source)}",
        f"store (local): {neutralise(str(c.store.resolved_path()))}",
        f"spill files (local): {neutralise(str(c.store.resolved_spill_dir()))}",
        f"agent id: {'random, kept beside the store' if c.agent.id == 'auto' else 'as set'}; "
        f"time zone: {neutralise(c.agent.timezone)}",
        "labels on every record: "
        + (
            ", ".join(f"{neutralise(k)}={neutralise(v)}" for k, v in c.agent.labels.items())
            or "none"
        ),
        "allowed label keys: " + ", ".join(c.privacy.label_keys),
        f"location shared: {'yes' if c.privacy.share_location else 'no'}; "
        f"public IP recorded: {'yes' if c.privacy.share_public_ip else 'no'}",
        f"stored for every record: {COMMON}",
        "",
        "jobs:",
    ]
    for job in [j for j in c.jobs if j.enabled] + list(c.streams):
        info = COLLECTORS.get(job.collector, Disclosure("unknown collector", "unknown"))
        where = "stays on this host" if _is_loopback(job.target) else "LEAVES THE DEVICE"
        lines += [
            f"  {neutralise(job.name)} ({neutralise(job.collector)} → {neutralise(job.target)}): "
            f"{where}",
            f"    stores: {info.stores}",
            f"    sends: {info.sends}",
        ]
    lines += ["", "exporters:" if c.exporters else "exporters: none (nothing is exported)"]
    for e in c.exporters:
        info = EXPORTERS.get(e.type, Disclosure("", "unknown exporter type"))
        target = e.options.get("path") or e.options.get("url") or e.options.get("listen", "")
        if e.type == "prometheus":
            target = e.options.get("listen", "127.0.0.1:9464")
            exposure = (
                "loopback only" if _is_loopback(str(target)) else "REACHABLE FROM THE NETWORK"
            )
        else:
            exposure = "local file" if e.type in {"jsonl", "parquet"} else "LEAVES THE DEVICE"
        lines.append(
            f"  {neutralise(e.name)} ({neutralise(e.type)} → {neutralise(str(target))}): {exposure}"
        )
        lines.append(f"    sends: {info.sends}")
    return lines
