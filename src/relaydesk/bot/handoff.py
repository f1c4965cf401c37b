"""The handoff package: what the person taking over needs so the customer repeats nothing.

Pure: built from the dialogue state and the last turn's understanding; bot/actions.py stores
it on the journey (``journeys.handoff``) and ``GET /api/v1/journeys/{id}`` shows it. The
summary is for agents and is written in English; the customer's words stay in the transcript,
referenced by message id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from relaydesk.bot.dialogue.state import DialogueState
from relaydesk.bot.turn import TurnAnalysis

REASONS = {
    "human_request": "The customer asked for a person",
    "frustrated": "The customer is frustrated",
    "out_of_scope": "The bot did not understand the customer twice in a row",
    "human_only_intent": "Only a person can handle this request",
    "not_solved": "The bot's answers did not solve it",
    "no_answer": "The bot has no answer for this",
    "bot_cannot_reply": "The bot cannot reply on this channel",
}
_NO_TOPIC = frozenset({None, "", "greeting", "goodbye", "human_request"})
PACKAGE_VERSION = 1


def _words(identifier: str) -> str:
    return identifier.replace("_", " ").replace("-", " ")


def summarise(
    reason: str,
    intent: str | None,
    confidence: float,
    facts: Mapping[str, Any],
    missing: Sequence[str],
    offered: Sequence[str],
    sentiment: Mapping[str, Any],
) -> str:
    """One or two lines an agent reads before saying hello."""
    parts = [REASONS.get(reason, _words(reason).capitalize()) + "."]
    if intent:
        parts.append(f"Topic: {_words(intent)} ({confidence:.0%} sure).")
    else:
        parts.append("Topic: not identified yet.")
    if facts:
        parts.append("Known: " + ", ".join(_words(k) for k in sorted(facts)) + ".")
    if missing:
        parts.append("Still needed: " + ", ".join(_words(k) for k in missing) + ".")
    if offered:
        parts.append("Already offered: " + ", ".join(offered) + ".")
    if sentiment.get("frustrated"):
        parts.append("Sentiment: frustrated.")
    elif sentiment.get("label") == "negative":
        parts.append("Sentiment: negative.")
    return " ".join(parts)


def build_package(
    *,
    reason: str,
    state: DialogueState,
    analysis: TurnAnalysis | None,
    journey_id: uuid.UUID,
    facts: Mapping[str, Any],
    missing_facts: Sequence[str] = (),
    message_ids: Sequence[str] = (),
    signals: Sequence[str] = (),
    now: datetime,
) -> dict[str, Any]:
    """The package stored with the handoff (JSON-ready).

    ``state`` is the dialogue state after the handoff turn; ``analysis`` the last message's
    understanding (None when a channel control asked for a person without words);
    ``message_ids`` the messages the bot handled and sent, oldest first; ``signals`` what
    the topic means for routing (purchase intent, churn risk, complaint).
    """
    parse = analysis.parse if analysis is not None else None
    intent, confidence = state.intent, state.confidence
    if intent in _NO_TOPIC and parse is not None and parse.intent not in _NO_TOPIC:
        intent, confidence = parse.intent, parse.confidence
    if intent in _NO_TOPIC:
        intent, confidence = None, 0.0
    sentiment = dict(parse.sentiment) if parse is not None else {}
    ids = list(dict.fromkeys(message_ids))
    missing = [f for f in missing_facts if f not in facts]
    return {
        "version": PACKAGE_VERSION,
        "reason": reason,
        "summary": summarise(reason, intent, confidence, facts, missing, state.offered, sentiment),
        "intent": intent,
        "confidence": round(float(confidence), 4),
        "language": state.language or (parse.language if parse is not None else None),
        "facts": {k: facts[k] for k in sorted(facts)},
        "missing_facts": missing,
        "sentiment": sentiment,
        "signals": sorted({*signals, *(analysis.signals if analysis is not None else ())}),
        "articles_offered": list(dict.fromkeys(state.offered)),
        "bot_turns": state.turns,
        "transcript": {
            "journey_id": str(journey_id),
            "first_message_id": ids[0] if ids else None,
            "last_message_id": ids[-1] if ids else None,
            "message_ids": ids,
        },
        "created_at": now.isoformat(),
    }
