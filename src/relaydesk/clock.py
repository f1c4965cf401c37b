"""The one source of time.

Nothing in Relaydesk calls ``datetime.now()`` directly: tests and the simulator swap the clock
to drive time deterministically.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to; for tests and simulation."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


class ScaledClock:
    """Simulated time that runs ``speed`` times faster than the wall clock (benchmarks).

    It reads ``start`` at the wall-clock instant ``wall_start`` (``time.time()``), so several
    processes given the same three numbers share one simulated clock.
    """

    def __init__(self, start: datetime, speed: float, *, wall_start: float | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("ScaledClock needs a timezone-aware start time")
        if speed <= 0:
            raise ValueError("ScaledClock needs a positive speed")
        self.start, self.speed = start, speed
        self.wall_start = time.time() if wall_start is None else wall_start

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.wall_start) * self.speed)

    def real_seconds(self, seconds: float) -> float:
        return seconds / self.speed


_current: Clock = SystemClock()


def now() -> datetime:
    """The current time according to the active clock (timezone-aware UTC)."""
    return _current.now()


def get_clock() -> Clock:
    return _current


def set_clock(clock: Clock) -> None:
    """Install ``clock`` process-wide (tests, the simulator)."""
    global _current
    _current = clock


@contextlib.contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    previous = get_clock()
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


def real_seconds(seconds: float) -> float:
    """How long to really wait (``asyncio.sleep``) for ``seconds`` of this clock to pass."""
    scale = getattr(_current, "real_seconds", None)
    return float(scale(seconds)) if scale is not None else seconds


def as_utc(value: datetime) -> datetime:
    """Normalise a datetime read from any database to aware UTC (SQLite drops tzinfo)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
