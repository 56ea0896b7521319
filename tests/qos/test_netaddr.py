"""Which hosts stay on this machine (:mod:`qos.netaddr`)."""

from __future__ import annotations

import pytest

from qos.netaddr import is_loopback_host


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.255.255.254", "::1", "[::1]", "localhost", "LOCALHOST", " ::1 "]
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "10.0.0.1", "192.0.2.7", "example.net", "localhost.example", ""]
)
def test_hosts_that_may_leave_the_device(host: str) -> None:
    assert not is_loopback_host(host)
