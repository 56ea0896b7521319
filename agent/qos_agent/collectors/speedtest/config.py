"""speedtest.net's config document, the mini-server URL and speedtest-cli's thread counts."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit


def parse_config_xml(xml: bytes) -> dict[str, Any]:
    """A speedtest.net config document → speedtest-cli's ``config`` dict (its get_config logic)."""
    root = ET.fromstring(xml)
    elements = {tag: root.find(tag) for tag in ("server-config", "download", "upload", "client")}
    missing = [tag for tag, el in elements.items() if el is None]
    if missing:
        raise ValueError(f"speedtest config lacks <{'>, <'.join(missing)}>")
    server_config, download, upload, client = (
        el.attrib for el in elements.values() if el is not None
    )
    ratio = int(upload["ratio"])
    if not 1 <= ratio <= 7:
        raise ValueError(f"upload ratio {ratio} outside 1..7")
    up_sizes = [32768, 65536, 131072, 262144, 524288, 1048576, 7340032][ratio - 1 :]
    upload_count = math.ceil(int(upload["maxchunkcount"]) / len(up_sizes))
    return {
        "client": dict(client),
        "ignore_servers": [int(i) for i in server_config.get("ignoreids", "").split(",") if i],
        "sizes": {
            "upload": up_sizes,
            "download": [350, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000],
        },
        "counts": {"upload": upload_count, "download": int(download["threadsperurl"])},
        "threads": {
            "upload": int(upload["threads"]),
            "download": int(server_config["threadcount"]) * 2,
        },
        "length": {"upload": int(upload["testlength"]), "download": int(download["testlength"])},
        "upload_max": upload_count * len(up_sizes),
    }


def mini_base_url(target: str) -> str:
    """``http://h:p/``, ``http://h:p/speedtest/`` or ``…/upload.php`` → the mini server root."""
    parts = urlsplit(target.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"target {target!r}: expected http://host[:port]/ or 'auto'")
    path = parts.path
    if path.endswith(".php"):
        path = path.rsplit("/", 1)[0]
    path = path.rstrip("/")
    if path.endswith("/speedtest"):
        path = path[: -len("/speedtest")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def default_threads(config: Mapping[str, Any], *, upload: bool) -> int:
    """speedtest-cli's thread counts as in a normal run (download first, then upload).

    Download: 2 × the config's ``threadcount``.  Upload: the config says 2, but speedtest-cli
    raises it to 8 after any download faster than 100 kbit/s (``Speedtest.download``); a run
    measuring upload alone would otherwise use 2 threads and, with a new TCP connection per
    request, under-read a congested uplink (a SYN lost at the full bottleneck queue idles a
    thread for the 1 s initial RTO — seen in the lab).
    """
    if upload:
        return max(int(config["threads"]["upload"]), 8)
    return int(config["threads"]["download"])
