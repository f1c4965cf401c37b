"""The customer's local daytime (pure): their time zone, and the next moment we may write."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_zones

from relaydesk.outreach.config import Daytime


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _from_number(number: phonenumbers.PhoneNumber) -> ZoneInfo | None:
    for name in phone_zones.time_zones_for_number(number):
        zone = _zone(name)
        if zone is not None:
            return zone
    return None


def customer_zone(
    timezone: str | None, country: str | None, phones: Iterable[str], default: str
) -> ZoneInfo:
    """The customer's own time zone, else their phone number's, else their country's (its
    first zone, for countries with several), else the workspace's."""
    zone = _zone(timezone)
    if zone is not None:
        return zone
    for phone in phones:
        try:
            found = _from_number(phonenumbers.parse(phone, None))
        except phonenumbers.NumberParseException:
            continue
        if found is not None:
            return found
    if country:
        example = phonenumbers.example_number(country.upper())
        found = _from_number(example) if example is not None else None
        if found is not None:
            return found
    return _zone(default) or ZoneInfo("UTC")


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
