"""Every registered collector honours the seam (docs/architecture.md §4)."""

from __future__ import annotations

import pytest

from qos.errors import ParameterError, UnknownCollectorError
from qos_agent import collectors
from qos_agent.collectors.base import Collector, MeasureContext, run_collector

NAMES = collectors.names()


@pytest.mark.parametrize("name", NAMES)
def test_collector_loads_and_describes_itself(name: str) -> None:
    collector = collectors.get(name)
    assert isinstance(collector, Collector)
    assert collector.name == name
    assert collector.description.strip()
    reasons = collector.check()
    assert isinstance(reasons, list) and all(isinstance(r, str) and r for r in reasons)
    names = [spec.name for spec in collector.param_specs]
    assert len(names) == len(set(names)), "duplicate parameter names"
    for spec in collector.param_specs:
        assert spec.help.strip(), f"{name}.{spec.name} has no help text"


@pytest.mark.parametrize("name", NAMES)
def test_the_registry_knows_which_collectors_are_heavy(name: str) -> None:
    """The scheduler asks the registry (no import); it must say what the class says."""
    assert collectors.is_heavy(name) is collectors.get(name).heavy


@pytest.mark.parametrize("name", NAMES)
def test_defaults_resolve_and_unknown_parameters_are_refused(name: str) -> None:
    collector = collectors.get(name)
    resolved = collector.resolve({})
    assert set(resolved) == {spec.name for spec in collector.param_specs}
    with pytest.raises(ParameterError, match="has no parameter 'no_such_param'"):
        collector.resolve({"no_such_param": "1"})


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_target_gives_a_record_not_an_exception(name: str) -> None:
    """Malformed targets are data (a failed record), never a crash of the daemon."""
    collector = collectors.get(name)
    if collector.check():
        pytest.skip(f"{name} cannot run here: {collector.check()}")
    params: dict[str, str] = {}
    for spec in collector.param_specs:  # keep every attempt short
        if spec.name == "count":
            params["count"] = "1"
        elif spec.name in {"timeout", "duration"}:
            params[spec.name] = f"{max(spec.minimum or 0.0, 0.2)}s"
    m = run_collector(
        collector, "invalid target ::: with spaces", params, MeasureContext(agent_id="conformance")
    )
    assert m.collector == name
    assert m.status != "ok"
    assert m.error


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        collectors.register("icmp", "qos_agent.collectors.icmp:IcmpCollector")


def test_unknown_collector_has_a_hint() -> None:
    with pytest.raises(UnknownCollectorError, match="did you mean 'tcp_connect'"):
        collectors.get("tcp_conect")
