"""The customer panel's local time: the profile's zone, else one guessed from the phone
number or the country (only when that names exactly one zone, and then it says so)."""

from __future__ import annotations

from datetime import UTC, datetime

from relaydesk import clock
from relaydesk.console.rendering import guess_timezone, local_time


def test_the_profiles_zone_wins() -> None:
    assert guess_timezone("Asia/Jakarta", "SE", "+46701234567") == ("Asia/Jakarta", None)


def test_a_zone_from_the_phone_number_or_the_country() -> None:
    assert guess_timezone(None, None, "+46701234567") == (
        "Europe/Stockholm",
        "from the phone number",
    )
    assert guess_timezone(None, "PL", None) == ("Europe/Warsaw", "from the country")
    assert guess_timezone(None, "pl", "not a number") == ("Europe/Warsaw", "from the country")


def test_no_guess_when_several_zones_fit() -> None:
    assert guess_timezone(None, "US", None) is None  # +1 spans a continent
    assert guess_timezone(None, "AU", "+61412345678") is None
    assert guess_timezone(None, None, None) is None


def test_local_time_says_where_a_guess_came_from() -> None:
    with clock.use_clock(clock.ManualClock(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))):
        assert local_time("Europe/Stockholm") == "Mon 13:00 (Europe/Stockholm)"
        assert local_time(None, None, "+6281234567890") == (
            "Mon 19:00 (Asia/Jakarta, from the phone number)"
        )
        assert local_time(None, "SE") == "Mon 13:00 (Europe/Stockholm, from the country)"
        assert local_time(None, "US") is None
