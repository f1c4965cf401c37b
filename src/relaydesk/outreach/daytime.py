"""The customer's local daytime (pure): their time zone, and the next moment we may write."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from relaydesk.customers.timezones import guess_zone, zone_named
from relaydesk.outreach.config import Daytime


def customer_zone(
    timezone: str | None, country: str | None, phones: Iterable[str], default: str
) -> ZoneInfo:
    """The customer's own time zone, else their phone number's, else their country's (its
    first zone, for countries with several), else the workspace's."""
    guess = guess_zone(timezone, country, phones)
    if guess is not None:
        return guess.zone
    return zone_named(default) or ZoneInfo("UTC")


def next_daytime(at: datetime, zone: ZoneInfo, daytime: Daytime) -> datetime:
    """``at`` if it is within the customer's daytime, else the start of the next daytime.

    Returned in ``zone`` (aware), so callers can both schedule it and show it.
    """
    local = at.astimezone(zone)
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        if day.isoweekday() not in daytime.days:
            continue
        start = datetime.combine(day, daytime.start, tzinfo=zone)
        end = datetime.combine(day, daytime.end, tzinfo=zone)
        if offset == 0 and start <= local < end:
            return local
        if local < start:
            return start
    raise AssertionError("daytime.days names at least one weekday")  # pragma: no cover
