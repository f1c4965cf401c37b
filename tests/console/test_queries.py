"""The customer panel's sentiment trend, pure: direction, sparkline and its spoken form."""

from __future__ import annotations

from datetime import UTC, datetime

from relaydesk.console.queries import SentimentReading, SentimentTrend

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _trend(*scores: float) -> SentimentTrend:
    label = {True: "negative", False: "positive"}
    return SentimentTrend(
        tuple(
            SentimentReading("neutral" if abs(s) < 0.25 else label[s < 0], s, s <= -1, AT)
            for s in scores
        )
    )


def test_no_messages_and_one_message_have_no_direction() -> None:
    assert _trend().direction is None and _trend().latest is None and _trend().sparkline == ""
    assert _trend(-0.5).direction is None and _trend(-0.5).latest is not None


def test_the_newer_half_against_the_older_half() -> None:
    assert _trend(-1, -0.5, 0.5, 1).direction == "improving"
    assert _trend(1, 0.5, -0.5, -1).direction == "worsening"
    assert _trend(-0.1, 0.1, 0.0, 0.1).direction == "steady"
    assert _trend(-1, 0.9, -1).direction == "steady"  # the middle one of three is in neither


def test_sparkline_runs_from_negative_to_positive_and_is_spoken() -> None:
    trend = _trend(-1, 0, 1)
    assert trend.sparkline == "▁▅█"
    assert trend.spoken == "negative (frustrated), neutral, positive"
    assert trend.frustrated == 1
