"""Which allocator Arrow uses while the loader builds its frames.

Arrow's default pool (mimalloc) keeps the pages of the columns it decoded to itself, so
the NumPy arrays built from them, and everything scoring allocates next, need fresh pages;
on a virtual machine page faults then dominate a load.  Measured on the 2-core development
VM, loading 10 M probe rows from a partitioned dataset: 2.6–3.1 s of kernel time with
mimalloc, 1.0–1.8 s with the C library's allocator, which hands freed column buffers back
to NumPy.  Buffers remember the pool that allocated them, so swapping the default pool for
the duration of a load is safe for any other Arrow user in the process.

Scoring allocates from it too (the verdict table's text columns, pandas' Arrow-backed
strings): mimalloc reserves its arenas with ``madvise(MADV_HUGEPAGE)``, and on the same VM
its 2 MiB faults made building a 40 k-row verdict table cost 0.14 s instead of 0.07 s.
Only buffers pyarrow allocates through the pool set from Python are affected; pyarrow's
own concatenation of chunks (``ChunkedArray.to_numpy``) still uses mimalloc, which is why
the readers fill NumPy arrays chunk by chunk (``qos_analysis.readers._to_numpy``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa


@contextmanager
def system_memory_pool() -> Iterator[None]:
    """Arrow allocates from the C library's allocator inside this block (nestable)."""
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)
