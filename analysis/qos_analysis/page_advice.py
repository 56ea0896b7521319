"""Whether NumPy asks the kernel for transparent huge pages while loading and scoring.

NumPy advises ``madvise(MADV_HUGEPAGE)`` on every array of 4 MiB or more (numpy.org, "Global
state": madvise hugepage on Linux).  Where transparent huge pages are enabled only on advice
(``/sys/kernel/mm/transparent_hugepage/enabled`` = ``madvise``, the default of several
distributions), each first touch of such an array then faults in and zeroes a 2 MiB page
and may compact memory to find one.  Loading and scoring allocate many short-lived arrays
of tens of MiB, so that cost recurs.  Measured on the 2-core development VM (kernel with
``defrag = madvise``) loading and scoring 10 M probe rows, three runs each: load 2.3–2.8 s
(kernel time 0.8–1.0 s) without the advice, 3.3–3.9 s (kernel time 1.7 s) with it; score
1.8 s (0.6 s) without, 2.1–2.7 s (1.0 s) with.

:func:`no_hugepage_advice` turns the advice off for the duration of a block and restores
it when the last nested or concurrent block ends.  A user who set ``NUMPY_MADVISE_HUGEPAGE``
chose for the process, so the setting is then left alone; so it is on a NumPy without the
switch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class _Advice:
    depth: int = 0  # blocks open, over all threads
    previous: bool = True  # NumPy's setting before the first of them


_LOCK = threading.Lock()
_STATE = _Advice()


def _switch() -> Callable[[bool], bool] | None:
    """NumPy's run-time switch (``_set_madvise_hugepage(on) -> previous``), if any."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return None
    import importlib

    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):  # NumPy 2, NumPy 1
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        switch: Callable[[bool], bool] | None = getattr(module, "_set_madvise_hugepage", None)
        return switch
    return None


@contextmanager
def no_hugepage_advice() -> Iterator[None]:
    """NumPy does not advise huge pages for arrays allocated inside this block."""
    switch = _switch()
    if switch is None:
        yield
        return
    with _LOCK:
        if _STATE.depth == 0:
            _STATE.previous = switch(False)
        _STATE.depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE.depth -= 1
            if _STATE.depth == 0:
                switch(_STATE.previous)
