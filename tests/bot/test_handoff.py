"""The handoff package: everything the person taking over needs, and nothing invented."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from relaydesk.bot.dialogue import ChannelTraits, DialogueKit, DialogueState, DialogueTexts, respond
from relaydesk.bot.handoff import REASONS, build_package, summarise
from relaydesk.bot.kb import KnowledgeBase
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import Pack
from relaydesk.bot.turn import analyse_turn

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
JOURNEY = uuid.UUID("0190f3c4-0000-7000-8000-000000000001")


@pytest.fixture(scope="module")
def kit(pack: Pack, kb: KnowledgeBase) -> DialogueKit:
    return DialogueKit(pack, kb, DialogueTexts.load())


def test_a_conversation_becomes_a_package(model: NluModel, kit: DialogueKit) -> None:
    state, facts = DialogueState(), {"email": "kim@example.com"}
    ids: list[str] = []
    for n, text in enumerate(["gdzie jest moje zamówienie #48213?", "nie", "chcę z konsultantem"]):
        analysis = analyse_turn(
            model, kit.pack, kit.kb, text, language=state.language, known_facts=facts
        )
        turn = respond(
            state, analysis, text, kit=kit, channel=ChannelTraits(), known_facts=facts, now=NOW
        )
        facts.update(turn.facts)
        state = turn.state
        ids += [f"in-{n}", f"out-{n}"]
    assert turn.hands_off and turn.reason == "human_request"
    package = build_package(
        reason="human_request",
        state=state,
        analysis=analysis,
        journey_id=JOURNEY,
        facts=facts,
        missing_facts=turn.missing_facts,
        message_ids=ids,
        signals=("churn_risk",),
        now=NOW,
    )
    assert package["reason"] == "human_request"
    assert package["intent"] == "order_status" and package["confidence"] > 0.9
    assert package["language"] == "pl"
    assert package["facts"] == {"email": "kim@example.com", "order_number": "48213"}
    assert package["missing_facts"] == []
    assert package["articles_offered"] == ["order-status"]
    assert package["signals"] == ["churn_risk"]
    assert package["bot_turns"] == 3
    assert set(package["sentiment"]) >= {"label", "frustrated", "signals"}
    assert package["transcript"] == {
        "journey_id": str(JOURNEY),
        "first_message_id": "in-0",
        "last_message_id": "out-2",
        "message_ids": ids,
    }
    assert package["created_at"] == NOW.isoformat()
    assert package["summary"] == (
        "The customer asked for a person. Topic: order status (100% sure). "
        "Known: email, order number. Already offered: order-status."
    )
    assert json.loads(json.dumps(package)) == package


def test_no_topic_yet_means_no_intent_not_a_guess() -> None:
    package = build_package(
        reason="human_request",
        state=DialogueState(language="sv", turns=1),
        analysis=None,
        journey_id=JOURNEY,
        facts={},
        now=NOW,
    )
    assert (package["intent"], package["confidence"]) == (None, 0.0)
    assert package["summary"] == "The customer asked for a person. Topic: not identified yet."
    assert package["sentiment"] == {} and package["signals"] == []
    assert package["transcript"]["first_message_id"] is None
    assert package["language"] == "sv"


def test_missing_facts_and_feelings_are_in_the_summary() -> None:
    state = DialogueState(intent="cancel_subscription", confidence=0.97, offered=("a", "a"))
    package = build_package(
        reason="frustrated",
        state=state,
        analysis=None,
        journey_id=JOURNEY,
        facts={"order_number": "1"},
        missing_facts=("email", "order_number"),
        message_ids=["m1", "m1", "m2"],
        now=NOW,
    )
    assert package["missing_facts"] == ["email"]  # a fact already known is not "missing"
    assert package["articles_offered"] == ["a"]
    assert package["transcript"]["message_ids"] == ["m1", "m2"]
    assert "Still needed: email." in package["summary"]
    line = summarise("frustrated", None, 0.0, {}, [], [], {"frustrated": True})
    assert line == "The customer is frustrated. Topic: not identified yet. Sentiment: frustrated."


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_every_reason_reads_as_a_sentence(reason: str) -> None:
    assert summarise(reason, "billing", 0.5, {}, [], [], {}).startswith(REASONS[reason] + ".")


def test_an_unknown_reason_is_still_readable() -> None:
    assert summarise("routing_policy", None, 0, {}, [], [], {}).startswith("Routing policy.")
