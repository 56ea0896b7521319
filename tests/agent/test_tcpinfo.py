"""The TCP_INFO decoder against a real loopback connection and against ``ss -ti``.

``tcpi_bytes_acked`` counts acknowledged sequence space: the connecting side's SYN, the
payload and, once acknowledged, the FIN.  The decoder must report what the kernel reports
(``ss`` reads the same ``struct tcp_info`` through netlink) and ``payload_acked`` must be
exactly the bytes sent.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from qos_agent.net import tcpinfo
from qos_agent.net.tcpinfo import TcpInfo

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="TCP_INFO is Linux-specific"
)

UP = 1_234_567  # odd sizes: no coincidence with segment or buffer sizes
DOWN = 77_777


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected loopback pair: (the socket that called connect(), the accepted one)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server, _ = listener.accept()
    server.settimeout(5)
    try:
        yield client, server
    finally:
        client.close()
        server.close()


def _transfer(sender: socket.socket, receiver: socket.socket, size: int) -> None:
    sender.sendall(b"\x5a" * size)
    got = 0
    while got < size:
        chunk = receiver.recv(1 << 20)
        assert chunk, "connection closed early"
        got += len(chunk)
    assert got == size


def _settled(sock: socket.socket, acked: int) -> TcpInfo:
    """The counters once ``acked`` sequence bytes are acknowledged (ACKs may be delayed)."""
    deadline = time.monotonic() + 5
    while True:
        info = tcpinfo.read(sock)
        assert info is not None
        if info.bytes_acked >= acked or time.monotonic() > deadline:
            return info
        time.sleep(0.01)


def _exchange(client: socket.socket, server: socket.socket) -> tuple[TcpInfo, TcpInfo]:
    """UP bytes client → server, DOWN bytes back; both sides' counters once acknowledged."""
    _transfer(client, server, UP)
    _transfer(server, client, DOWN)
    return _settled(client, UP + 1), _settled(server, DOWN)


def _ss_counters(local_port: int) -> dict[str, int]:
    """``bytes_acked``/``bytes_received`` of the established socket bound to ``local_port``."""
    out = subprocess.run(
        ["ss", "-tinH", "state", "established", f"( sport = :{local_port} )"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    return {k: int(v) for k, v in re.findall(r"\b(bytes_acked|bytes_received):(\d+)", out)}


def test_connecting_side_counts_its_syn_and_payload_acked_is_exact(pair) -> None:
    client, server = pair
    mine, theirs = _exchange(client, server)
    assert mine.bytes_acked == UP + 1  # the SYN: snd_una starts at the ISN on connect()
    assert mine.payload_acked() == UP
    assert mine.bytes_received == DOWN
    assert theirs.bytes_acked == DOWN  # accept(): snd_una starts past the SYN-ACK
    assert theirs.payload_acked(connected=False) == DOWN
    assert theirs.bytes_received == UP
    assert mine.bytes_sent in (None, UP)  # no retransmission on loopback
    assert mine.segs_out > 0 and mine.segs_in > 0 and mine.snd_mss > 0


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) is not installed")
def test_decoder_reads_what_ss_reports_for_the_same_sockets(pair) -> None:
    client, server = pair
    mine, theirs = _exchange(client, server)
    ss_mine = _ss_counters(client.getsockname()[1])
    ss_theirs = _ss_counters(server.getsockname()[1])
    assert ss_mine == {"bytes_acked": mine.bytes_acked, "bytes_received": mine.bytes_received}
    assert ss_theirs == {
        "bytes_acked": theirs.bytes_acked,
        "bytes_received": theirs.bytes_received,
    }
    assert ss_mine["bytes_acked"] - 1 == UP == ss_theirs["bytes_received"]


def test_fin_is_counted_once_acknowledged(pair) -> None:
    client, server = pair
    _transfer(client, server, UP)
    _settled(client, UP + 1)
    client.shutdown(socket.SHUT_WR)
    assert server.recv(1) == b""
    mine = _settled(client, UP + 2)
    assert mine.bytes_acked == UP + 2  # why payload_acked is read before shutting down
    assert tcpinfo.read(server).bytes_received == UP + 1  # type: ignore[union-attr]


def test_no_counters_for_a_udp_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        assert tcpinfo.read(udp) is None
