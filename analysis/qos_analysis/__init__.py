"""qos_analysis: load → statistics → QoE models → scoring (docs/architecture.md §2).

``qos_analysis.load(paths)`` reads stores and exports into tidy frames,
``qos_analysis.score(data, profile)`` turns them into verdicts against a threshold
profile, ``qos_analysis.report(data, profile, format="html")`` writes a compliance
report; :mod:`qos_analysis.stats` and :mod:`qos_analysis.qoe` hold the formulas of
``docs/methods.md``.  Depends on ``qos`` and the scientific stack; never on the
agent package.
"""

from qos_analysis.load import DataError, Dataset, from_measurements, load

# After this import ``qos_analysis.report`` is the function; the subpackage stays importable
# as ``qos_analysis.report.<module>`` (it is already in sys.modules).
from qos_analysis.report import report
from qos_analysis.scoring import VERDICT_COLUMNS, overall, score

__all__ = [
    "VERDICT_COLUMNS",
    "DataError",
    "Dataset",
    "from_measurements",
    "load",
    "overall",
    "report",
    "score",
]
