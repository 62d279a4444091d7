"""Whose clock the agent schedules by: this host's, or storage's when they disagree.

A commune box without a battery-backed clock, or whose NTP is blocked, may be minutes
off. Every storage response carries an HTTP ``Date`` (whole seconds), so each one bounds
the offset ``storage − local``: the store stamped it between sending and receiving, and
the true instant lies in ``[Date, Date + 1 s)``. Intersecting the bounds of a few recent
responses, taken at different fractions of a second, narrows the offset to about the
round-trip time."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from playout._objectstore import DateSample
from playout.agent._clock import Clock

# Above this disagreement the agent schedules by storage's time (the 2 s); it goes
# back to its own clock only below USE_LOCAL_BELOW_S, so that an offset near the
# threshold does not make the schedule jump back and forth.
USE_STORAGE_ABOVE_S = 2.0
USE_LOCAL_BELOW_S = 1.5
_WINDOW = 16  # recent samples intersected; older ones let a slow drift through

ClockSource = Literal["storage", "local"]


@dataclass(frozen=True)
class ClockReading:
    """The estimated offset (``None`` before any response) and the clock in use."""

    offset_s: float | None
    uncertainty_s: float | None
    using: ClockSource

    def document(self) -> dict[str, Any]:
        return {
            "offset_s": _rounded(self.offset_s),
            "uncertainty_s": _rounded(self.uncertainty_s),
            "using": self.using,
        }


def _rounded(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


class OffsetEstimator:
    """``storage − local`` in seconds, as the intersection of recent bounds."""

    def __init__(self, window: int = _WINDOW) -> None:
        self._bounds: deque[tuple[float, float]] = deque(maxlen=window)
        self.restarts = 0

    def add(self, low: float, high: float) -> None:
        """One response's bounds. When they miss the current intersection, the local
        clock was stepped (or drifted out): start again from this response alone."""
        current = self.bounds()
        if current is not None and (low > current[1] or high < current[0]):
            self._bounds.clear()
            self.restarts += 1
        self._bounds.append((low, high))

    def bounds(self) -> tuple[float, float] | None:
        if not self._bounds:
            return None
        return max(low for low, _ in self._bounds), min(high for _, high in self._bounds)

    def estimate(self) -> tuple[float, float] | None:
        """(offset, uncertainty): the middle of the intersection and half its width."""
        bounds = self.bounds()
        if bounds is None:
            return None
        low, high = bounds
        return (low + high) / 2, (high - low) / 2


def sample_bounds(
    sample: DateSample, local_now: float, monotonic_now: float
) -> tuple[float, float]:
    """The offset bounds one response gives, with its monotonic times placed on the local
    clock as it reads now (``local_now``, a Unix time, read with ``monotonic_now``)."""
    sent = local_now - (monotonic_now - sample.sent)
    received = local_now - (monotonic_now - sample.received)
    date = sample.date.timestamp()
    return date - received, date + 1.0 - sent


class TimeBase:
    """The agent's notion of now: ``local()``, plus the offset to storage when that is
    larger than ``USE_STORAGE_ABOVE_S``. Thread-safe; every reading first takes in the
    ``Date`` samples the store has gathered since."""

    def __init__(self, local: Clock, samples: Callable[[], list[DateSample]]) -> None:
        self.local = local
        self._samples = samples
        self._lock = threading.Lock()
        self._estimator = OffsetEstimator()
        self._using: ClockSource = "local"
        self._applied = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            self._take_samples()
            return self.local() + self._applied

    def in_use(self, local_moment: datetime) -> datetime:
        """An instant read from this host's clock (a sink's), on the clock in use."""
        with self._lock:
            return local_moment + self._applied

    def reading(self) -> ClockReading:
        with self._lock:
            self._take_samples()
            estimate = self._estimator.estimate()
            if estimate is None:
                return ClockReading(None, None, self._using)
            return ClockReading(estimate[0], estimate[1], self._using)

    def _take_samples(self) -> None:
        samples = self._samples()
        if not samples:
            return
        local_now, monotonic_now = self.local().timestamp(), time.monotonic()
        for sample in samples:
            self._estimator.add(*sample_bounds(sample, local_now, monotonic_now))
        self._choose()

    def _choose(self) -> None:
        estimate = self._estimator.estimate()
        if estimate is None:
            return
        offset = estimate[0]
        if abs(offset) > USE_STORAGE_ABOVE_S:
            self._using = "storage"
        elif abs(offset) < USE_LOCAL_BELOW_S:
            self._using = "local"
        applied = offset if self._using == "storage" else 0.0
        self._applied = timedelta(seconds=applied)
