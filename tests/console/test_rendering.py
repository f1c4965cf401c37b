"""The customer panel's local time: the profile's zone, else one guessed from the phone
number or the country (only when that names exactly one zone, and then it says so; the
guessing itself is tested in tests/customers/test_timezones.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from relaydesk import clock
from relaydesk.console.rendering import local_time


def test_local_time_says_where_a_guess_came_from() -> None:
    with clock.use_clock(clock.ManualClock(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))):
        assert local_time("Europe/Stockholm") == "Mon 13:00 (Europe/Stockholm)"
        assert local_time(None, None, "+6281234567890") == (
            "Mon 19:00 (Asia/Jakarta, from the phone number)"
        )
        assert local_time(None, "SE") == "Mon 13:00 (Europe/Stockholm, from the country)"
        assert local_time(None, "US") is None
        assert local_time(None, "AU", "+61412345678") is None
