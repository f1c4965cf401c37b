"""Where a customer is in time (pure): their own time zone, else one guessed from a phone
number or the country, and where the guess came from.

Outreach needs *a* zone to keep messages inside the customer's daytime, so it takes the first
candidate; the console shows a local time only when the guess is unambiguous.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_zones
from phonenumbers.tzdata import TIMEZONE_DATA

FROM_PHONE = "from the phone number"
FROM_COUNTRY = "from the country"


@dataclass(frozen=True)
class ZoneGuess:
    zone: ZoneInfo
    source: str | None
    """None for the profile's own time zone, else ``FROM_PHONE`` or ``FROM_COUNTRY``."""

    @property
    def name(self) -> str:
        return self.zone.key


def zone_named(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _pick(names: Iterable[str], unambiguous: bool) -> ZoneInfo | None:
    zones = [zone for name in names if name != "Etc/Unknown" and (zone := zone_named(name))]
    if unambiguous:
        return zones[0] if len(zones) == 1 else None
    return zones[0] if zones else None


def _phone_zones(phone: str) -> tuple[str, ...]:
    try:
        return tuple(phone_zones.time_zones_for_number(phonenumbers.parse(phone, None)))
    except phonenumbers.NumberParseException:
        return ()


def _country_zones(country: str, unambiguous: bool) -> tuple[str, ...]:
    region = country.upper()
    if unambiguous:  # every zone of the country's calling code: one only if it is the only one
        code = phonenumbers.country_code_for_region(region)
        return tuple(TIMEZONE_DATA.get(str(code), ())) if code else ()
    example = phonenumbers.example_number(region)
    return tuple(phone_zones.time_zones_for_number(example)) if example is not None else ()


def guess_zone(
    timezone: str | None,
    country: str | None,
    phones: Iterable[str],
    *,
    unambiguous: bool = False,
) -> ZoneGuess | None:
    """The profile's time zone, else the first phone number's that gives one, else the
    country's; with ``unambiguous`` a phone or country counts only if it names one zone."""
    own = zone_named(timezone)
    if own is not None:
        return ZoneGuess(own, None)
    for phone in phones:
        zone = _pick(_phone_zones(phone), unambiguous)
        if zone is not None:
            return ZoneGuess(zone, FROM_PHONE)
    if country:
        zone = _pick(_country_zones(country, unambiguous), unambiguous)
        if zone is not None:
            return ZoneGuess(zone, FROM_COUNTRY)
    return None
