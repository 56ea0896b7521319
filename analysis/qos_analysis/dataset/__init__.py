"""A partitioned Parquet dataset of many agents' measurements (docs/architecture.md §2.5).

Layout under the dataset directory (Hive-style partitions, one folder per UTC day and agent)::

    qos-dataset.json                                  marker: layout version
    measurements/date=YYYY-MM-DD/agent=ID/part-B.parquet
    probes/date=YYYY-MM-DD/agent=ID/part-B.parquet    (RTT probe rows of batch B)
    intervals/date=YYYY-MM-DD/agent=ID/part-B.parquet (throughput samples of batch B)
    agents/agent=ID/timezone.parquet                  the agent's IANA time zone
    agents.csv                                        optional panel metadata (operator …)

The tables have the columns of ``qos-agent export --format parquet``.  A batch is committed
by its ``measurements`` part, written last: probe and interval parts without a measurements
part (a writer that died mid-batch) are ignored by readers.  Each file is written to a
temporary name, fsynced and renamed, so a reader or a crash never sees half a file.
"""

from qos_analysis.dataset.layout import MARKER, is_dataset
from qos_analysis.dataset.reader import read_dataset
from qos_analysis.dataset.writer import DatasetWriter, WriteReport

__all__ = ["MARKER", "DatasetWriter", "WriteReport", "is_dataset", "read_dataset"]
