"""NumPy's huge-page advice is off inside load/score blocks and restored after the last."""

from __future__ import annotations

import threading

import pytest

from qos_analysis.page_advice import _switch, no_hugepage_advice


def _advice_now() -> bool:
    """NumPy's current setting (read by setting it back to itself)."""
    switch = _switch()
    assert switch is not None
    on = switch(False)
    switch(on)
    return on


@pytest.fixture
def switch(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    sw = _switch()
    if sw is None:
        pytest.skip("this NumPy has no run-time huge-page switch")
    before = sw(True)
    yield sw
    sw(before)


def test_off_inside_and_restored_after_nested_blocks(switch) -> None:
    with no_hugepage_advice():
        assert _advice_now() is False
        with no_hugepage_advice():
            assert _advice_now() is False
        assert _advice_now() is False  # the outer block is still open
    assert _advice_now() is True


def test_restored_after_an_error(switch) -> None:
    with pytest.raises(RuntimeError), no_hugepage_advice():
        raise RuntimeError("boom")
    assert _advice_now() is True


def test_overlapping_blocks_of_two_threads_restore_once_both_end(switch) -> None:
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with no_hugepage_advice():
            entered.set()
            release.wait(5)

    worker = threading.Thread(target=other)
    with no_hugepage_advice():
        worker.start()
        assert entered.wait(5)
    assert _advice_now() is False  # the other thread's block is still open
    release.set()
    worker.join(5)
    assert _advice_now() is True


def test_user_setting_is_left_alone(switch, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
    with no_hugepage_advice():
        assert switch(True) is True
