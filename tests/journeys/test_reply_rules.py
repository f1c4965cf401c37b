"""The channel rules for a written reply, as the pure ``check_reply`` decides them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relaydesk.journeys.reply_rules import ChannelSnapshot, check_reply

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def snapshot(kind: str = "twilio_whatsapp", **overrides: object) -> ChannelSnapshot:
    values: dict[str, object] = {
        "name": "wa",
        "kind": kind,
        "enabled": True,
        "reachable": True,
        "last_inbound_at": NOW - timedelta(hours=1),
        "revoked": frozenset(),
    }
    values.update(overrides)
    return ChannelSnapshot(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["twilio_whatsapp", "whatsapp_cloud"])
def test_whatsapp_inside_the_window_takes_free_text(kind: str) -> None:
    verdict = check_reply(snapshot(kind), NOW)
    assert verdict.can_send and not verdict.template_only


@pytest.mark.parametrize("kind", ["twilio_whatsapp", "whatsapp_cloud"])
@pytest.mark.parametrize("last", [None, NOW - timedelta(hours=24, seconds=1)])
def test_whatsapp_outside_the_window_needs_a_template(kind: str, last: datetime | None) -> None:
    closed = check_reply(snapshot(kind, last_inbound_at=last), NOW)
    assert closed.refusal is not None and closed.refusal.code == "window_closed"
    assert "older than 24 h" in closed.refusal.reason
    assert "send an approved template" in closed.refusal.reason
    assert closed.template_only
    assert check_reply(snapshot(kind, last_inbound_at=last), NOW, template=True).can_send


def test_a_channel_without_a_window_never_asks_for_a_template() -> None:
    verdict = check_reply(snapshot("api", last_inbound_at=None), NOW)
    assert verdict.can_send and not verdict.template_only


def test_voice_takes_no_written_reply() -> None:
    verdict = check_reply(snapshot("twilio_voice", name="phone"), NOW)
    assert verdict.refusal is not None and verdict.refusal.code == "no_written_replies"
    assert not verdict.template_only


def test_an_opt_out_refuses_everything_a_marketing_opt_out_only_marketing() -> None:
    stop = check_reply(snapshot(revoked=frozenset({"wa"})), NOW)
    assert stop.refusal is not None and stop.refusal.code == "opted_out"
    assert stop.refusal.reason == "the customer opted out of wa; reply on another channel"
    assert check_reply(snapshot(revoked=frozenset({"wa"})), NOW, template=True).refusal is not None
    marketing = snapshot(revoked=frozenset({"wa:marketing"}))
    assert check_reply(marketing, NOW).can_send
    refused = check_reply(marketing, NOW, marketing=True).refusal
    assert refused is not None and "marketing messages on wa" in refused.reason
    assert check_reply(snapshot(revoked=frozenset({"other"})), NOW).can_send


def test_disabled_unreachable_and_too_long() -> None:
    disabled = check_reply(snapshot(enabled=False), NOW).refusal
    assert disabled is not None and disabled.code == "channel_disabled"
    unreachable = check_reply(snapshot(reachable=False), NOW).refusal
    assert unreachable is not None and unreachable.code == "no_address"
    long = check_reply(snapshot(), NOW, text_length=1601).refusal
    assert long is not None and long.code == "too_long"
    assert check_reply(snapshot(), NOW, text_length=1600).can_send


def test_the_first_broken_rule_is_the_one_reported() -> None:
    """An opted-out customer on a closed window hears about the opt-out (a template would
    not help)."""
    verdict = check_reply(snapshot(last_inbound_at=None, revoked=frozenset({"wa"})), NOW)
    assert verdict.refusal is not None and verdict.refusal.code == "opted_out"
    assert not verdict.template_only
