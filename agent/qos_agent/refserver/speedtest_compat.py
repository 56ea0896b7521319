"""The speedtest.net "mini" endpoint set, as speedtest-cli 2.1.3 wants it (docs/methods.md §12.7).

speedtest-cli downloads ``random{N}x{N}.jpg`` for N in 350 … 4000 and measures bytes read
per second, so the sizes must be those of the files Ookla shipped with Speedtest Mini (a
larger or smaller file changes how long each request lasts, not the rate, but keeping them
identical keeps runs comparable with public servers).  The sizes below are the byte counts
of the Speedtest Mini files (directory listing of Dec 2014, widely mirrored).  Uploads are
POSTs to ``upload.php`` answered with ``size=<n>``; a GET answers ``size=0`` so that
speedtest-cli's mini-server auto-detection accepts the server.  ``latency.txt`` must read
exactly ``test=test``.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

#: N of ``random{N}x{N}.jpg`` → file size in bytes (Speedtest Mini distribution)
JPEG_SIZES: dict[int, int] = {
    350: 245_388,
    500: 505_544,
    750: 1_118_012,
    1000: 1_986_284,
    1500: 4_468_241,
    2000: 7_907_740,
    2500: 12_407_926,
    3000: 17_816_816,
    3500: 24_262_167,
    4000: 31_625_365,
}

LATENCY_BODY = b"test=test"

_JPEG_NAME = re.compile(r"^random([0-9]{1,5})x([0-9]{1,5})\.jpg$")  # ASCII digits only

#: The index page of a mini server; speedtest-cli looks for ``upload_extension: "php"``.
INDEX_HTML = (
    b"<!DOCTYPE html><html><head><title>qos-toolkit reference server</title></head><body>"
    b"<p>qos-toolkit reference server: /download?bytes=N, /upload, /latency, /speedtest/</p>"
    b'<script>var config = {upload_extension: "php"};</script></body></html>'
)


def jpeg_size(name: str) -> int | None:
    """Byte size of ``random{N}x{N}.jpg`` for a known N, else None (→ 404)."""
    match = _JPEG_NAME.match(name)
    if match is None or match.group(1) != match.group(2):
        return None
    return JPEG_SIZES.get(int(match.group(1)))


def config_xml(
    *,
    client_ip: str,
    test_length_s: int,
    threadcount: int = 4,
    threadsperurl: int = 4,
    upload_threads: int = 2,
    upload_ratio: int = 5,
    upload_maxchunkcount: int = 50,
) -> bytes:
    """A speedtest.net ``speedtest-config.php`` document with the fields speedtest-cli reads.

    speedtest-cli derives from it: download threads = 2 × ``threadcount``, requests per
    size = ``threadsperurl``, upload sizes from ``ratio`` (5 → 512 KiB, 1 MiB, 7 MiB),
    upload requests = ``maxchunkcount`` spread over those sizes, and the test length in
    seconds per direction.  Values default to those speedtest.net published for its clients.
    """
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<settings>\n'
        f'<client ip={quoteattr(client_ip)} lat="0" lon="0" isp="qos-toolkit reference" '
        'isprating="3.7" rating="0" ispdlavg="0" ispulavg="0" loggedin="0" country="ZZ"/>\n'
        f'<server-config threadcount="{threadcount}" ignoreids="" notonmap="" '
        'forcepingid="" preferredserverid=""/>\n'
        f'<download testlength="{test_length_s}" initialtest="250K" mintestsize="250K" '
        f'threadsperurl="{threadsperurl}"/>\n'
        f'<upload testlength="{test_length_s}" ratio="{upload_ratio}" initialtest="0" '
        f'mintestsize="32K" threads="{upload_threads}" maxchunksize="512K" '
        f'maxchunkcount="{upload_maxchunkcount}" threadsperurl="4"/>\n'
        "</settings>\n"
    ).encode()
