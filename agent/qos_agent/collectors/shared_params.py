"""Parameters that several collectors share: one name, meaning, default and bounds each.

Declared once so that ``direction``, ``interval`` (of stored throughput samples) and
``scheduling`` mean the same in every collector that takes them, and ``qos-agent list
--params`` describes them alike.  :class:`~qos_agent.collectors.base.ParamSpec` is frozen,
so one instance may sit in several collectors' ``param_specs``.
"""

from __future__ import annotations

from qos_agent.collectors.base import ParamSpec

#: Direction of a throughput test (the client's point of view).
DIRECTION = ParamSpec(
    "direction", "str", "download", "download or upload", choices=("download", "upload")
)

#: Spacing of the goodput samples a throughput collector stores (ThroughputInterval rows).
SAMPLE_INTERVAL = ParamSpec(
    "interval",
    "duration",
    0.1,
    "sampling interval of the stored samples",
    minimum=0.01,
    maximum=10,
)

#: Real-time scheduling of a probe stream's sending thread (see collectors.scheduling).
SCHEDULING = ParamSpec(
    "scheduling",
    "str",
    "auto",
    "auto: SCHED_FIFO for the sending thread when permitted (regular send times "
    "under CPU load); normal: never",
    choices=("auto", "normal"),
)
