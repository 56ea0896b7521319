"""Test-tree wide hooks: the lab fixtures and the ``lab`` marker skip logic (package qos_lab)."""

import pytest

from qos_lab.fixtures import (  # noqa: F401  (fixtures are found by name)
    _module_lab,
    _module_tun_lab,
    _stale_lab_cleanup,
    lab,
    shared_lab,
    shared_tun_lab,
    skip_lab_items,
    tun_lab,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_lab_items(items)
