"""Business-hours maths: worked examples, bad input, and properties over random instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaydesk.sla.calendar import (
    BusinessCalendar,
    add_business_time,
    business_time_between,
)

PARIS = ZoneInfo("Europe/Paris")
H = timedelta(hours=1)

OFFICE = BusinessCalendar.create(
    timezone="Europe/Paris",
    hours={
        "mon": ["09:00-12:30", "13:30-18:00"],
        "tue": ["09:00-12:30", "13:30-18:00"],
        "wed": ["09:00-12:30", "13:30-18:00"],
        "thu": ["09:00-12:30", "13:30-18:00"],
        "fri": ["09:00-17:00"],
        "sat": ["10:00-14:00"],
        "sun": ["00:00-24:00"],  # clocks change on Sundays at 02:00/03:00 in Europe
    },
    country="FR",
    closed=[date(2026, 12, 24)],
)
NINE_TO_FIVE = BusinessCalendar.create(
    timezone="America/New_York",
    hours={day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    country="US",
    subdivision="NY",
)
ALWAYS = BusinessCalendar.always_open("Europe/Paris")
CALENDARS = st.sampled_from([OFFICE, NINE_TO_FIVE, ALWAYS])

instants = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2028, 12, 31),
    timezones=st.just(UTC),
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


# --- worked examples --------------------------------------------------------------------------


def test_friday_afternoon_plus_two_hours_is_saturday_morning() -> None:
    start = paris(2026, 3, 6, 16, 0)  # Friday; closes 17:00, Saturday opens 10:00
    assert add_business_time(start, 2 * H, OFFICE) == paris(2026, 3, 7, 11, 0)


def test_lunch_break_and_closing_time() -> None:
    start = paris(2026, 3, 9, 12, 0)  # Monday
    assert add_business_time(start, H, OFFICE) == paris(2026, 3, 9, 14, 0)
    # ending exactly at closing time gives the closing time, not the next opening
    assert add_business_time(paris(2026, 3, 9, 17, 0), H, OFFICE) == paris(2026, 3, 9, 18, 0)
    assert business_time_between(paris(2026, 3, 9, 8), paris(2026, 3, 10, 8), OFFICE) == 8 * H


def test_started_outside_hours_counts_from_the_next_opening() -> None:
    start = paris(2026, 3, 10, 22, 0)  # Tuesday night
    assert add_business_time(start, 30 * timedelta(minutes=1), OFFICE) == paris(2026, 3, 11, 9, 30)


def test_public_holidays_and_extra_closed_dates_are_skipped() -> None:
    # 14 July 2026 (Bastille Day) is a Tuesday
    assert business_time_between(paris(2026, 7, 14), paris(2026, 7, 15), OFFICE) == timedelta(0)
    assert add_business_time(paris(2026, 7, 13, 17), 2 * H, OFFICE) == paris(2026, 7, 15, 10)
    # 24 December 2026 is an extra closed date (a Thursday); the 25th is a holiday
    assert business_time_between(paris(2026, 12, 24), paris(2026, 12, 26), OFFICE) == timedelta(0)
    # Thanksgiving 2026 in New York: Thursday 26 November
    ny = ZoneInfo("America/New_York")
    assert business_time_between(
        datetime(2026, 11, 26, tzinfo=ny), datetime(2026, 11, 27, tzinfo=ny), NINE_TO_FIVE
    ) == timedelta(0)
    assert OFFICE.is_closed_on(date(2026, 7, 14)) and not OFFICE.is_closed_on(date(2026, 7, 15))


@pytest.mark.parametrize(
    ("day", "length"),
    [
        (date(2026, 3, 29), 23 * H),  # spring forward in Paris
        (date(2026, 10, 25), 25 * H),  # fall back
        (date(2026, 3, 22), 24 * H),
    ],
)
def test_a_whole_day_open_is_real_time_across_dst(day: date, length: timedelta) -> None:
    start = datetime.combine(day, datetime.min.time(), tzinfo=PARIS)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=PARIS)
    assert business_time_between(start, end, OFFICE) == length
    assert business_time_between(start, end, ALWAYS) == length
    assert add_business_time(start, length, ALWAYS) == end.astimezone(UTC)


def test_office_hours_on_dst_days_keep_their_length() -> None:
    ny = ZoneInfo("America/New_York")
    monday_after = datetime(2026, 3, 9, tzinfo=ny)  # US clocks changed on Sunday the 8th
    assert business_time_between(monday_after, monday_after + 24 * H, NINE_TO_FIVE) == 8 * H
    assert add_business_time(datetime(2026, 3, 6, 16, tzinfo=ny), 2 * H, NINE_TO_FIVE) == (
        datetime(2026, 3, 9, 10, tzinfo=ny)
    )


def test_pauses_stop_the_clock() -> None:
    start = paris(2026, 3, 9, 9)  # Monday
    pause = (paris(2026, 3, 9, 10), paris(2026, 3, 9, 11))
    assert add_business_time(start, 2 * H, OFFICE, pauses=[pause]) == paris(2026, 3, 9, 12)
    assert business_time_between(start, paris(2026, 3, 9, 12), OFFICE, pauses=[pause]) == 2 * H
    # overlapping and unordered pauses merge; a pause outside hours changes nothing
    pauses = [
        (paris(2026, 3, 9, 10, 30), paris(2026, 3, 9, 11, 30)),
        pause,
        (paris(2026, 3, 9, 20), paris(2026, 3, 9, 22)),
    ]
    # 8 h open (lunch 12:30-13:30 excluded) minus 10:00-11:30 paused
    assert business_time_between(start, paris(2026, 3, 9, 18), OFFICE, pauses=pauses) == (6.5 * H)


def test_between_is_negative_backwards_and_zero_for_the_same_instant() -> None:
    a, b = paris(2026, 3, 9, 9), paris(2026, 3, 9, 11)
    assert business_time_between(b, a, OFFICE) == -2 * H
    assert business_time_between(a, a, OFFICE) == timedelta(0)
    assert add_business_time(a, timedelta(0), OFFICE) == a


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"hours": {"monday": ["09:00-17:00"]}}, "unknown weekday 'monday'"),
        ({"hours": {"mon": "09:00-17:00"}}, "list of intervals"),
        ({"hours": {"mon": ["9-17"]}}, "not an interval"),
        ({"hours": {"mon": ["09:00-25:00"]}}, "not a valid time"),
        ({"hours": {"mon": ["09:60-17:00"]}}, "not a valid time"),
        ({"hours": {"mon": ["17:00-09:00"]}}, "closes before it opens"),
        ({"hours": {"mon": ["09:00-13:00", "12:00-17:00"]}}, "overlap"),
        ({"hours": {}}, "at least one weekday"),
        ({"country": "XX"}, "unknown holiday country"),
        ({"country": "FR", "subdivision": "ZZ"}, "subdivision"),
        ({"subdivision": "NY"}, "needs a country"),
    ],
)
def test_bad_calendars_are_refused(kwargs: dict[str, object], problem: str) -> None:
    values: dict[str, object] = {"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}}
    with pytest.raises(ValueError, match=problem):
        BusinessCalendar.create(**{**values, **kwargs})  # type: ignore[arg-type]


def test_bad_arguments_are_refused() -> None:
    naive = datetime(2026, 3, 9, 9)
    aware = paris(2026, 3, 9, 9)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(naive, H, OFFICE)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_time_between(aware, naive, OFFICE)
    with pytest.raises(ValueError, match="zero or more"):
        add_business_time(aware, -H, OFFICE)
    with pytest.raises(ValueError, match="ends before it starts"):
        add_business_time(aware, H, OFFICE, pauses=[(aware, aware - H)])
    closed = BusinessCalendar.create(
        timezone="UTC",
        hours={"mon": ["09:00-17:00"]},
        closed=[date(2026, 3, 9) + timedelta(weeks=n) for n in range(2000)],
    )
    with pytest.raises(ValueError, match="no opening hours"):
        add_business_time(aware, H, closed)


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(CALENDARS, instants, durations, durations)
def test_adding_is_additive(
    calendar: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    assert add_business_time(add_business_time(start, a, calendar), b, calendar) == (
        add_business_time(start, a + b, calendar)
    )


@settings(max_examples=150, deadline=None)
@given(CALENDARS, instants, durations)
def test_between_measures_what_was_added(
    calendar: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    end = add_business_time(start, duration, calendar)
    assert end >= start
    assert business_time_between(start, end, calendar) == duration
    assert business_time_between(start, end, calendar) <= end - start


@settings(max_examples=150, deadline=None)
@given(CALENDARS, instants, instants, instants)
def test_between_is_additive_over_any_split(
    calendar: BusinessCalendar, a: datetime, b: datetime, c: datetime
) -> None:
    assert business_time_between(a, b, calendar) + business_time_between(b, c, calendar) == (
        business_time_between(a, c, calendar)
    )


@settings(max_examples=150, deadline=None)
@given(CALENDARS, instants, instants, durations, durations)
def test_monotonic_in_start_and_duration(
    calendar: BusinessCalendar, s1: datetime, s2: datetime, d1: timedelta, d2: timedelta
) -> None:
    s1, s2 = min(s1, s2), max(s1, s2)
    d1, d2 = min(d1, d2), max(d1, d2)
    assert add_business_time(s1, d1, calendar) <= add_business_time(s1, d2, calendar)
    assert add_business_time(s1, d1, calendar) <= add_business_time(s2, d1, calendar)


@settings(max_examples=100, deadline=None)
@given(instants, durations, st.lists(st.tuples(instants, durations), max_size=4))
def test_pauses_only_ever_push_the_deadline_later(
    start: datetime, duration: timedelta, raw: list[tuple[datetime, timedelta]]
) -> None:
    pauses = [(begin, begin + length) for begin, length in raw]
    paused = add_business_time(start, duration, OFFICE, pauses=pauses)
    assert paused >= add_business_time(start, duration, OFFICE)
    assert business_time_between(start, paused, OFFICE, pauses=pauses) == duration


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31)))
def test_no_business_time_on_a_public_holiday(day: date) -> None:
    start = datetime.combine(day, datetime.min.time(), tzinfo=PARIS)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=PARIS)
    inside = business_time_between(start, end, OFFICE)
    if OFFICE.is_closed_on(day):
        assert inside == timedelta(0)
    else:
        assert inside > timedelta(0)  # every weekday of OFFICE has hours
