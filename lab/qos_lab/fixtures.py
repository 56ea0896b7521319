"""Pytest fixtures and skip logic of the ground-truth lab (marker ``lab``; docs/methods.md §12).

Loaded for the whole test tree by ``tests/conftest.py``, so any test may use them.  Mark
lab tests with ``@pytest.mark.lab`` (or ``pytestmark = pytest.mark.lab`` per module); pure
parser/statistics tests stay unmarked and run everywhere.  Marked tests skip with the
reason when the lab cannot run here (not root, ``ip``/``tc``/``iptables`` or /dev/net/tun
missing).

Fixtures:

* ``lab`` — a fresh veth lab (client — router — server) per test, no impairment;
* ``tun_lab`` — a fresh lab whose router–server hop is the TUN bridge (delay/jitter);
* ``shared_lab`` / ``shared_tun_lab`` — one lab per module, impairments reset before each
  test (faster when many tests need the same topology).

All of them clean up (processes, TUN devices, namespaces) even when the test fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qos_lab.netlab import Lab, cleanup_stale, missing_requirements


def skip_lab_items(items: list[pytest.Item]) -> None:
    """Skip every ``lab``-marked test when the host cannot run the lab, naming why."""
    problems = missing_requirements()
    if not problems:
        return
    skip = pytest.mark.skip(reason="lab cannot run here: " + "; ".join(problems))
    for item in items:
        if item.get_closest_marker("lab") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def _stale_lab_cleanup() -> None:
    """Remove namespaces left by crashed earlier runs (their creating process is gone)."""
    if not missing_requirements():
        cleanup_stale()


@pytest.fixture
def lab(_stale_lab_cleanup: None) -> Iterator[Lab]:
    with Lab(tun=False) as built:
        yield built


@pytest.fixture
def tun_lab(_stale_lab_cleanup: None) -> Iterator[Lab]:
    with Lab(tun=True) as built:
        yield built


@pytest.fixture(scope="module")
def _module_lab(_stale_lab_cleanup: None) -> Iterator[Lab]:
    with Lab(tun=False) as built:
        yield built


@pytest.fixture(scope="module")
def _module_tun_lab(_stale_lab_cleanup: None) -> Iterator[Lab]:
    with Lab(tun=True) as built:
        yield built


@pytest.fixture
def shared_lab(_module_lab: Lab) -> Lab:
    _module_lab.reset()
    return _module_lab


@pytest.fixture
def shared_tun_lab(_module_tun_lab: Lab) -> Lab:
    _module_tun_lab.reset()
    return _module_tun_lab
