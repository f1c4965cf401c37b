"""The journey and conversation state machines."""

from __future__ import annotations

import pytest

from relaydesk.journeys.states import (
    JOURNEY_TRANSITIONS,
    ConversationTrigger,
    InvalidTransition,
    JourneyStatus,
    JourneyTrigger,
    next_conversation_status,
    next_journey_status,
)


def test_resolve_and_reopen() -> None:
    assert next_journey_status("open", JourneyTrigger.RESOLVE) is JourneyStatus.RESOLVED
    assert next_journey_status("resolved", JourneyTrigger.REOPEN) is JourneyStatus.OPEN
    assert next_journey_status("waiting", JourneyTrigger.CUSTOMER_MESSAGE) is JourneyStatus.OPEN


@pytest.mark.parametrize(
    ("status", "trigger"),
    [
        ("resolved", JourneyTrigger.RESOLVE),
        ("resolved", JourneyTrigger.CUSTOMER_MESSAGE),
        ("open", JourneyTrigger.REOPEN),
        ("bogus", JourneyTrigger.RESOLVE),
    ],
)
def test_invalid_transitions_are_refused(status: str, trigger: JourneyTrigger) -> None:
    with pytest.raises(InvalidTransition, match=f"cannot {trigger.value} from {status}"):
        next_journey_status(status, trigger)


def test_every_live_status_can_reach_resolved() -> None:
    terminal = {JourneyStatus.COMBINED}  # a tombstone redirecting to the journey it joined
    assert not any(old in terminal for old, _trigger in JOURNEY_TRANSITIONS)
    for status in set(JourneyStatus) - terminal:
        reachable = {status}
        for _ in range(3):
            reachable |= {new for (old, _t), new in JOURNEY_TRANSITIONS.items() if old in reachable}
        assert JourneyStatus.RESOLVED in reachable


def test_conversations_close_and_reopen() -> None:
    assert next_conversation_status("open", ConversationTrigger.CLOSE).value == "closed"
    assert next_conversation_status("closed", ConversationTrigger.REOPEN).value == "open"
    with pytest.raises(InvalidTransition):
        next_conversation_status("closed", ConversationTrigger.CLOSE)
