"""A customer's time zone: the profile's, else one guessed from a phone number or the
country; unambiguous guesses (the console) only when that names exactly one zone."""

from __future__ import annotations

from relaydesk.customers.timezones import FROM_COUNTRY, FROM_PHONE, guess_zone


def _guess(
    timezone: str | None, country: str | None, phone: str | None, *, unambiguous: bool = True
) -> tuple[str, str | None] | None:
    found = guess_zone(timezone, country, [phone] if phone else [], unambiguous=unambiguous)
    return (found.name, found.source) if found else None


def test_the_profiles_zone_wins() -> None:
    assert _guess("Asia/Jakarta", "SE", "+46701234567") == ("Asia/Jakarta", None)


def test_a_zone_from_the_phone_number_or_the_country() -> None:
    assert _guess(None, None, "+46701234567") == ("Europe/Stockholm", FROM_PHONE)
    assert _guess(None, "PL", None) == ("Europe/Warsaw", FROM_COUNTRY)
    assert _guess(None, "pl", "not a number") == ("Europe/Warsaw", FROM_COUNTRY)
    assert _guess("Not/AZone", None, "+6281234567890") == ("Asia/Jakarta", FROM_PHONE)


def test_no_unambiguous_guess_when_several_zones_fit() -> None:
    assert _guess(None, "US", None) is None  # +1 spans a continent
    assert _guess(None, "AU", "+61412345678") is None
    assert _guess(None, None, None) is None


def test_any_guess_takes_the_first_zone_that_fits() -> None:
    us = _guess(None, "US", None, unambiguous=False)
    assert us is not None and us[0].startswith("America/") and us[1] == FROM_COUNTRY
    assert _guess(None, None, None, unambiguous=False) is None
