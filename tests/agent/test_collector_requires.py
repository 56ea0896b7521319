"""Optional libraries are located, not imported, when a configuration is checked."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qos_agent.collectors.base import Collector


def test_missing_library_gives_the_distribution_to_install() -> None:
    reasons = Collector.requires("qos_no_such_module.sub", "qos-no-such-lib")
    assert reasons == ["qos-no-such-lib is not installed (pip install 'qos-toolkit[agent]')"]
    assert Collector.requires("json", "python") == []


@pytest.mark.parametrize("blocked", [("dns",), ("dns", "dns.message")])
def test_a_blocked_import_counts_as_missing(
    monkeypatch: pytest.MonkeyPatch, blocked: tuple[str, ...]
) -> None:
    """A package blocked in ``sys.modules`` (``None``) cannot be imported: it is missing,
    whether or not another test imported it before."""
    monkeypatch.delitem(sys.modules, "dns.message", raising=False)
    for name in blocked:
        monkeypatch.setitem(sys.modules, name, None)
    assert Collector.requires("dns.message", "dnspython") != []


@pytest.mark.parametrize(
    ("collector", "module"),
    [("dns", "dns.message"), ("tls_integrity", "cryptography.x509"), ("speedtest", "speedtest")],
)
def test_check_does_not_load_the_library(collector: str, module: str) -> None:
    pytest.importorskip(module.split(".")[0], reason=f"{module} (agent extra) not installed")
    code = (
        "import sys\n"
        "from qos_agent.collectors import get\n"
        f"assert get({collector!r}).check() == []\n"
        f"print({module!r} in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
