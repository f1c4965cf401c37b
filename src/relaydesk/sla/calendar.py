"""Business-hours maths for SLA clocks: pure functions of a calendar and instants.

A calendar is weekly opening hours per weekday, in a time zone, minus public holidays (the
``holidays`` package, by country and subdivision) and extra closed dates. Business time is
real elapsed time inside opening hours: an 8-hour day is 8 hours even on the night clocks
change, and a 24-hour day (``00:00-24:00``) is 23 or 25 hours on those days. Local times
that do not exist (the spring-forward gap) or exist twice (fall-back) are resolved by
``zoneinfo`` (``fold=0``); opening intervals are then kept in order and never overlap, so
the maths stays additive and monotonic. Pauses (waiting on the customer) stop the clock.

All instants are timezone-aware; results are in UTC.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 366 * 20
"""How far the maths looks for open hours before deciding a calendar is always closed."""
_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

Pause = tuple[datetime, datetime]


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours per weekday (minutes since local midnight), a zone and closed dates."""

    timezone: ZoneInfo
    hours: tuple[tuple[tuple[int, int], ...], ...]
    """Seven entries, Monday first; each a sorted tuple of non-overlapping (open, close)."""
    closed: frozenset[date] = frozenset()
    public_holidays: Any = field(default=None, compare=False)
    """A ``holidays.HolidayBase`` (years are filled in as they are asked about), or None."""

    @classmethod
    def create(
        cls,
        *,
        timezone: str,
        hours: Mapping[str, Sequence[str]],
        country: str | None = None,
        subdivision: str | None = None,
        closed: Iterable[date] = (),
    ) -> BusinessCalendar:
        """Build from workspace-style values: ``{"mon": ["09:00-12:30", "13:30-17:00"]}``.

        Raises ValueError naming the bad value.
        """
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time zone {timezone!r}") from None
        unknown = set(hours) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown weekday {sorted(unknown)[0]!r}; use {', '.join(WEEKDAYS)}")
        week = tuple(_parse_day(day, hours.get(day, ())) for day in WEEKDAYS)
        if not any(week):
            raise ValueError("a calendar needs opening hours on at least one weekday")
        public = None
        if country is not None:
            try:
                public = holidays.country_holidays(country, subdiv=subdivision)
            except NotImplementedError as exc:
                raise ValueError(f"unknown holiday country or subdivision: {exc}") from None
        elif subdivision is not None:
            raise ValueError("a holiday subdivision needs a country")
        return cls(zone, week, frozenset(closed), public)

    @classmethod
    def always_open(cls, timezone: str = "UTC") -> BusinessCalendar:
        return cls.create(timezone=timezone, hours={day: ["00:00-24:00"] for day in WEEKDAYS})

    def is_closed_on(self, day: date) -> bool:
        """A public holiday or an extra closed date (weekly hours aside)."""
        return day in self.closed or (
            self.public_holidays is not None and day in self.public_holidays
        )

    def open_intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Opening intervals in UTC, in order, not overlapping, from the one holding ``start``."""
        start = _utc(start, "start")
        day = start.astimezone(self.timezone).date() - timedelta(days=1)
        previous_end = start
        for _ in range(MAX_DAYS):
            if not self.is_closed_on(day):
                for opens, closes in self.hours[day.weekday()]:
                    begin = max(self._instant(day, opens), previous_end)
                    end = self._instant(day, closes)
                    if end > begin:
                        yield begin, end
                        previous_end = end
            day += timedelta(days=1)
        raise ValueError(f"no opening hours within {MAX_DAYS} days of {start.isoformat()}")

    def _instant(self, day: date, minutes: int) -> datetime:
        if minutes == 24 * 60:
            return self._instant(day + timedelta(days=1), 0)
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.timezone)
        return local.astimezone(UTC)


def _parse_day(day: str, intervals: Sequence[str]) -> tuple[tuple[int, int], ...]:
    if isinstance(intervals, str):
        raise ValueError(f"{day}: give a list of intervals like ['09:00-17:00']")
    parsed = []
    for text in intervals:
        match = _INTERVAL.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"{day}: {text!r} is not an interval like '09:00-17:00'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(f"{day}: {text!r} is not a valid time of day")
        opens, closes = h1 * 60 + m1, h2 * 60 + m2
        if closes <= opens:
            raise ValueError(f"{day}: {text!r} closes before it opens")
        parsed.append((opens, closes))
    parsed.sort()
    for (_, first_close), (second_open, _) in itertools.pairwise(parsed):
        if second_open < first_close:
            raise ValueError(f"{day}: opening intervals overlap")
    return tuple(parsed)


def _utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)


def _pauses(pauses: Iterable[Pause]) -> list[Pause]:
    """Validated, in UTC, sorted and merged."""
    merged: list[Pause] = []
    for begin, end in sorted((_utc(b, "pause start"), _utc(e, "pause end")) for b, e in pauses):
        if end < begin:
            raise ValueError("a pause ends before it starts")
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def _counting(
    calendar: BusinessCalendar, start: datetime, pauses: list[Pause]
) -> Iterator[tuple[datetime, datetime]]:
    """Open intervals from ``start`` with the pauses cut out."""
    index = 0
    for begin, end in calendar.open_intervals(start):
        begin = max(begin, start)
        while begin < end:
            while index < len(pauses) and pauses[index][1] <= begin:
                index += 1
            if index == len(pauses) or pauses[index][0] >= end:
                yield begin, end
                break
            pause_begin, pause_end = pauses[index]
            if pause_begin > begin:
                yield begin, pause_begin
            begin = pause_end


def add_business_time(
    start: datetime,
    duration: timedelta,
    calendar: BusinessCalendar,
    *,
    pauses: Iterable[Pause] = (),
) -> datetime:
    """The instant when ``duration`` of business time has passed since ``start`` (UTC).

    A zero duration gives ``start`` itself; time that ends exactly at a closing time gives
    that closing time, not the next opening.
    """
    start = _utc(start, "start")
    if not isinstance(duration, timedelta) or duration < timedelta(0):
        raise ValueError("duration must be a timedelta of zero or more")
    if duration == timedelta(0):
        return start
    left = duration
    for begin, end in _counting(calendar, start, _pauses(pauses)):
        if end - begin >= left:
            return begin + left
        left -= end - begin
    raise AssertionError("unreachable: open_intervals raises when it runs out")


def business_time_between(
    a: datetime,
    b: datetime,
    calendar: BusinessCalendar,
    *,
    pauses: Iterable[Pause] = (),
) -> timedelta:
    """Business time from ``a`` to ``b``; negative when ``b`` is before ``a``."""
    a, b = _utc(a, "a"), _utc(b, "b")
    if b < a:
        return -business_time_between(b, a, calendar, pauses=pauses)
    total = timedelta(0)
    if a == b:
        return total
    for begin, end in _counting(calendar, a, _pauses(pauses)):
        if begin >= b:
            break
        total += min(end, b) - begin
    return total
