"""The outside world's time, injectable so that tests can replace it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from qos.records import utc_now


@dataclass(frozen=True, slots=True)
class Clock:
    """Wall time for timestamps, a monotonic counter for durations, and a sleep."""

    wall: Callable[[], datetime] = utc_now
    monotonic_ns: Callable[[], int] = time.monotonic_ns
    sleep: Callable[[float], None] = time.sleep
