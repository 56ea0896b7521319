"""The verdicts of one objective held column-wise: the fields they all share and one list per
field that varies between (scope, window) groups.

A large panel gives tens of thousands of verdicts per objective; the verdict table is built
from these columns directly, and typed :class:`~qos_analysis.scoring.verdict.Verdict`
records are made only when asked for (:meth:`VerdictBlock.verdicts`), with the same values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import pandas as pd

from qos_analysis.scoring.verdict import VERDICT_COLUMNS, Verdict, columns_frame


@dataclass(frozen=True)
class VerdictBlock:
    """``size`` verdicts: ``base`` holds every field, ``columns`` the varying ones (one
    value per verdict, overriding ``base``)."""

    base: Mapping[str, Any]
    columns: Mapping[str, Sequence[Any]]
    size: int

    @classmethod
    def from_verdicts(cls, verdicts: Sequence[Verdict]) -> VerdictBlock:
        """A block of typed verdicts (every field a column)."""
        columns = {name: [getattr(v, name) for v in verdicts] for name in VERDICT_COLUMNS}
        return cls({}, columns, len(verdicts))

    def column(self, name: str) -> Sequence[Any]:
        """The values of field ``name``, one per verdict."""
        if name in self.columns:
            return self.columns[name]
        return [self.base[name]] * self.size

    def verdicts(self) -> list[Verdict]:
        """The typed verdicts, in order."""
        names = list(self.columns)
        rows = zip(*self.columns.values(), strict=True)
        return [Verdict(**{**self.base, **dict(zip(names, row, strict=True))}) for row in rows]


def blocks_verdicts(blocks: Iterable[VerdictBlock]) -> list[Verdict]:
    """The typed verdicts of ``blocks``, block after block."""
    return [v for block in blocks for v in block.verdicts()]


def blocks_frame(blocks: Sequence[VerdictBlock]) -> pd.DataFrame:
    """The verdict table of ``blocks``: equal, column for column and dtype for dtype, to
    :func:`~qos_analysis.scoring.verdict.verdicts_frame` of their verdicts."""
    columns: dict[str, Any] = {}
    for name in VERDICT_COLUMNS:
        pieces = [b.column(name) for b in blocks]
        if any(isinstance(p, pd.DatetimeIndex) for p in pieces):
            columns[name] = _times(pieces)
        else:
            columns[name] = list(chain.from_iterable(pieces))
    return columns_frame(columns)


def _times(pieces: Sequence[Sequence[Any]]) -> pd.Series:
    """Window bounds of many blocks as one UTC column (µs, as the loader's clock), without
    a Python object per value where a block holds them as a :class:`pd.DatetimeIndex`."""
    indexes = [
        p if isinstance(p, pd.DatetimeIndex) else pd.DatetimeIndex(list(p), tz="UTC").as_unit("us")
        for p in pieces
    ]
    return pd.Series(indexes[0].append(indexes[1:]) if len(indexes) > 1 else indexes[0])
