"""Host names and addresses: which ones stay on this machine.

A loopback address (127.0.0.0/8, ``::1``; RFC 1122 §3.2.1.3, RFC 4291 §2.5.3) never leaves
the host, so services bound to one need no TLS and expose nothing to the network, and
targets on one send nothing off the device.  ``localhost`` counts as loopback (RFC 6761
§6.3 reserves it for the loopback interface).
"""

from __future__ import annotations

import ipaddress


def is_loopback_host(host: str) -> bool:
    """``True`` for ``localhost`` and loopback IP literals (brackets allowed for IPv6)."""
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
