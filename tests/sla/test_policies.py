"""Pure SLA maths: policy matching and clocks over business hours, holidays and pauses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from relaydesk.sla.calendar import BusinessCalendar
from relaydesk.sla.policies import (
    Happening,
    JourneyFacts,
    calendar_for,
    choose_policy,
    compute_clocks,
)
from relaydesk.sla.schemas import SlaConfig

OFFICE = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
CONFIG = SlaConfig.model_validate(
    {
        "default_calendar": "office",
        "calendars": [
            {
                "name": "office",
                "timezone": "Europe/Berlin",
                "hours": OFFICE,
                "holidays": {"country": "DE"},
            },
            {
                "name": "night",
                "timezone": "UTC",
                "hours": {"mon": ["00:00-24:00"]},
                "teams": ["night"],
            },
        ],
        "policies": [
            {"name": "complaints", "match": {"intents": ["complaint"]}, "first_response": "30m"},
            {
                "name": "vip-chat",
                "match": {"tiers": ["Gold"], "channels": ["chat"]},
                "first_response": "5m",
            },
            {
                "name": "urgent",
                "match": {"priorities": ["urgent", "high"]},
                "first_response": "15m",
            },
            {"name": "valuable", "match": {"min_value": 500}, "first_response": "20m"},
            {
                "name": "standard",
                "first_response": "1h",
                "next_response": "2h",
                "resolution": "16h",
            },
        ],
    }
)
POLICIES = {p.name: p for p in CONFIG.policies}
BERLIN_OFFICE = CONFIG.business_calendars["office"]
H = timedelta(hours=1)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (JourneyFacts(), "standard"),
        (
            JourneyFacts(intent="order_status", intent_signals=frozenset({"complaint"})),
            "complaints",
        ),
        (
            JourneyFacts(intent="complaint", tier="gold", channel="chat", priority="urgent"),
            "complaints",
        ),
        (JourneyFacts(tier="GOLD", channel="chat"), "vip-chat"),
        (JourneyFacts(tier="gold", channel="mail"), "standard"),
        (JourneyFacts(priority="high"), "urgent"),
        (JourneyFacts(priority="low", value=499.99), "standard"),
        (JourneyFacts(value=500), "valuable"),
    ],
)
def test_first_matching_policy_wins(facts: JourneyFacts, expected: str) -> None:
    policy = choose_policy(CONFIG, facts)
    assert policy is not None and policy.name == expected


def test_no_catch_all_means_no_policy() -> None:
    narrow = SlaConfig.model_validate(
        {"policies": [{"name": "c", "match": {"intents": ["complaint"]}, "resolution": "1d"}]}
    )
    assert choose_policy(narrow, JourneyFacts(intent="refund")) is None


def test_calendar_policy_then_team_then_default() -> None:
    standard = POLICIES["standard"]
    assert calendar_for(CONFIG, standard, JourneyFacts()) == "office"
    assert calendar_for(CONFIG, standard, JourneyFacts(teams=("support", "night"))) == "night"
    pinned = standard.model_copy(update={"calendar": "office"})
    assert calendar_for(CONFIG, pinned, JourneyFacts(teams=("night",))) == "office"
    assert calendar_for(SlaConfig(), standard, JourneyFacts()) is None


def _clocks(history: list[Happening], start: datetime, calendar: BusinessCalendar = BERLIN_OFFICE):
    return {c.kind: c for c in compute_clocks(POLICIES["standard"], calendar, start, history)}


def test_deadlines_skip_nights_weekends_and_public_holidays() -> None:
    # Friday 2 Jan 2026 15:30 UTC = 16:30 Berlin: 30 min left that day, then the weekend.
    start = at(2, 15, 30)
    clocks = _clocks([Happening(start, "inbound")], start)
    assert clocks["first_response"].due_at == at(5, 8, 30)  # Monday 09:30 Berlin
    assert "next_response" not in clocks  # starts only after a person's reply
    # Over New Year's Day (a public holiday in Germany) from 31 Dec 16:30 Berlin
    start = datetime(2025, 12, 31, 15, 30, tzinfo=UTC)
    clocks = _clocks([Happening(start, "inbound")], start)
    assert clocks["first_response"].due_at == at(2, 8, 30)  # 1 Jan closed: Fri 09:30 Berlin


def test_replies_meet_and_next_response_cycles() -> None:
    start = at(5, 8)
    history = [
        Happening(start, "inbound"),
        Happening(at(5, 8, 40), "reply"),
        Happening(at(5, 9), "inbound"),
        Happening(at(5, 9, 5), "inbound"),
        Happening(at(5, 12), "reply"),
        Happening(at(5, 13), "inbound"),
    ]
    clocks = _clocks(history, start)
    assert clocks["first_response"].met_at == at(5, 8, 40) and not clocks["first_response"].breached
    nxt = clocks["next_response"]
    assert nxt.started_at == at(5, 13) and nxt.met_at is None and nxt.due_at == at(5, 15)
    earlier = _clocks(history[:5], start)["next_response"]
    assert earlier.started_at == at(5, 9) and earlier.met_at == at(5, 12)
    assert earlier.breached  # 3 h for a 2 h target


def test_bot_time_pauses_response_clocks_only() -> None:
    start = at(5, 8)
    history = [
        Happening(start, "owner:bot"),
        Happening(start, "inbound"),
        Happening(at(5, 10), "owner:queue"),
    ]
    clocks = _clocks(history, start)
    assert clocks["first_response"].due_at == at(5, 11)
    assert clocks["resolution"].due_at == at(6, 16)
    while_bot = _clocks(history[:2], start)["first_response"]
    assert while_bot.paused and while_bot.remaining == H and while_bot.due_at is None


def test_waiting_pauses_and_customer_message_resumes() -> None:
    start = at(5, 8)
    history = [
        Happening(start, "inbound"),
        Happening(at(5, 8, 10), "reply"),
        Happening(at(5, 8, 20), "waiting"),
    ]
    paused = _clocks(history, start)["resolution"]
    assert paused.paused and paused.remaining == timedelta(hours=16) - timedelta(minutes=20)
    resumed = _clocks([*history, Happening(at(6, 8), "inbound")], start)
    assert resumed["resolution"].due_at == at(7, 15, 40)
    assert resumed["next_response"].due_at == at(6, 10)


def test_breach_before_a_pause_stays_breached() -> None:
    start = at(5, 8)
    history = [Happening(start, "inbound"), Happening(at(5, 10), "waiting")]
    first = _clocks(history, start)["first_response"]
    assert first.breached and not first.paused and first.due_at == at(5, 9)


def test_resolve_meets_clocks_and_reopen_continues_them() -> None:
    start = at(5, 8)
    history = [Happening(start, "inbound"), Happening(at(5, 9, 30), "resolved")]
    clocks = _clocks(history, start)
    assert clocks["resolution"].met_at == at(5, 9, 30) and not clocks["resolution"].breached
    assert clocks["first_response"].met_at == at(5, 9, 30) and clocks["first_response"].breached
    reopened = _clocks(
        [*history, Happening(at(6, 8), "reopened"), Happening(at(6, 8), "inbound")], start
    )
    resolution = reopened["resolution"]
    assert resolution.met_at is None
    assert resolution.due_at == at(7, 14, 30)  # 1.5 h used Monday, 14.5 h from Tuesday 09:00


def test_warning_share_in_business_time() -> None:
    start = at(2, 15, 30)
    first = _clocks([Happening(start, "inbound")], start)["first_response"]
    assert first.at_share(0.75, BERLIN_OFFICE) == at(5, 8, 15)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"policies": [{"name": "x"}]}, "at least one of"),
        ({"policies": [{"name": "x", "first_response": "soon"}]}, "a duration like"),
        ({"policies": [{"name": "x", "first_response": 0}]}, "longer than zero"),
        (
            {"policies": [{"name": "x", "resolution": "1d", "calendar": "nope"}]},
            "no calendar named",
        ),
        ({"default_calendar": "nope"}, "no calendar named"),
        (
            {"calendars": [{"name": "c", "timezone": "Mars/Base", "hours": OFFICE}]},
            "unknown time zone",
        ),
        (
            {"calendars": [{"name": "c", "hours": {"mon": ["17:00-09:00"]}}]},
            "closes before it opens",
        ),
        ({"calendars": [{"name": "c", "hours": OFFICE, "holidays": {"country": "XX"}}]}, "holiday"),
        ({"escalation": {"warn_at": 1.5}}, "less than 1"),
        ({"escalation": {"on_warning": ["reoffer"]}}, "raise_priority"),
        (
            {"policies": [{"name": "a", "resolution": "1d"}, {"name": "a", "resolution": "2d"}]},
            "twice",
        ),
        (
            {
                "calendars": [
                    {"name": "a", "hours": OFFICE, "teams": ["t"]},
                    {"name": "b", "hours": OFFICE, "teams": ["t"]},
                ]
            },
            "already uses calendar",
        ),
    ],
)
def test_bad_sections_are_refused(section: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SlaConfig.model_validate(section)
    assert message in str(caught.value)
