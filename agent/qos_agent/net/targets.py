"""``HOST``, ``HOST:PORT`` and ``[IPv6]:PORT`` target strings → (host, port).

One parser for every collector that takes a host and port (STAMP, iperf3, TCP connect,
DNS), so that a target written one way is read the same way by all of them.  A bare IPv6
address (more than one colon, no brackets) is a host without a port, as in RFC 3986 §3.2.2
a literal needs brackets before a port can follow.
"""

from __future__ import annotations


def split_host_port(target: str, default_port: int | None = None) -> tuple[str, int]:
    """``target`` → (host, port); ValueError naming the target when it cannot be used.

    Without ``default_port`` the port is required.
    """
    text = target.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad target {target!r}: expected [IPv6]:PORT")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""  # bare host or bare IPv6 address
    if not host:
        raise ValueError(f"bad target {target!r}: no address")
    if not port_text:
        if default_port is None:
            raise ValueError(f"bad target {target!r}: needs a port (HOST:PORT)")
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad target {target!r}: port must be 1..65535")
    return host, int(port_text)
