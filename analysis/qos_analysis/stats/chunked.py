"""Row-wise work in slices of a fixed size, so that temporaries are small and reused.

An array of tens of MiB comes from a fresh ``mmap`` every time it is allocated (the C
library returns blocks above 32 MiB to the kernel when they are freed), and every 4 KiB
page of it costs a page fault on first touch — on a virtual machine often more than the
arithmetic itself.  A temporary of :data:`CHUNK_ROWS` rows is served from, and returned
to, the C library's heap, so a loop over slices faults its pages in once.  The slices are
plain views: each element is computed by the same operation as over the whole array, so
results are identical.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: Rows per slice: 8 MiB of float64, well inside the C library's reuse threshold.
CHUNK_ROWS = 1 << 20


def chunks(n: int, size: int | None = None) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive slices covering ``range(n)``, :data:`CHUNK_ROWS`
    rows each unless ``size`` is given."""
    size = size or CHUNK_ROWS
    for start in range(0, n, size):
        yield start, min(start + size, n)


def bincount(codes: np.ndarray, minlength: int) -> np.ndarray:
    """``np.bincount(codes, minlength=minlength)`` as int64, slice by slice for codes
    narrower than the platform integer (which ``np.bincount`` would first copy whole)."""
    if codes.dtype == np.intp or codes.size <= CHUNK_ROWS:
        return np.bincount(codes, minlength=minlength).astype(np.int64, copy=False)
    top = int(codes.max()) + 1 if codes.size else 0
    out = np.zeros(max(minlength, top), dtype=np.int64)
    for a, b in chunks(codes.size):
        part = np.bincount(codes[a:b])
        out[: part.size] += part
    return out


def run_starts(*keys: np.ndarray) -> np.ndarray:
    """Start of every run of equal consecutive rows of the ``keys`` taken together (row 0
    included), computed slice by slice."""
    n = keys[0].size
    if n == 0:
        return np.empty(0, dtype=np.int64)
    found = [np.zeros(1, dtype=np.int64)]
    for a, b in chunks(n - 1):
        change = keys[0][a + 1 : b + 1] != keys[0][a:b]
        for key in keys[1:]:
            change |= key[a + 1 : b + 1] != key[a:b]
        found.append(np.flatnonzero(change) + (a + 1))
    return np.concatenate(found)
