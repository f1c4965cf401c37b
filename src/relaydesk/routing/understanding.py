"""What routing needs to know about a customer message, from the bot's NLU and pack.

Computed outside the write transaction (the model is CPU work and the result depends only on
the text), then handed to the actions, which store it on the queue entry so a journey can be
re-decided later without parsing again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relaydesk.hub import Hub

HUMAN_META_KEYS = ("requests_human", "human_request", "human_requested")
"""Set on a stored message by channel controls (widget button, postback, IVR key)."""


@dataclass(frozen=True, slots=True)
class Understood:
    language: str | None = None
    intent: str | None = None
    intent_signals: frozenset[str] = frozenset()
    bot_may_resolve: bool = False
    sentiment: float = 0.0
    human_request: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "intent": self.intent,
            "intent_signals": sorted(self.intent_signals),
            "bot_may_resolve": self.bot_may_resolve,
            "sentiment": self.sentiment,
            "human_request": self.human_request,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Understood:
        data = data or {}
        return cls(
            language=data.get("language"),
            intent=data.get("intent"),
            intent_signals=frozenset(data.get("intent_signals") or ()),
            bot_may_resolve=bool(data.get("bot_may_resolve", False)),
            sentiment=float(data.get("sentiment") or 0.0),
            human_request=bool(data.get("human_request", False)),
        )


def requests_human(meta: dict[str, Any] | None) -> bool:
    return any(bool((meta or {}).get(key)) for key in HUMAN_META_KEYS)


async def understand(
    hub: Hub,
    text: str,
    *,
    language: str | None = None,
    previous: tuple[str, ...] = (),
    meta: dict[str, Any] | None = None,
) -> Understood:
    """Intent (with the pack's signals), language, sentiment and an explicit human request.

    Uses the bot's trained model for this hub (one per process, shared with the bot)."""
    from relaydesk.bot.listeners import runtime_for  # the bot owns the model's lifecycle

    trained = await runtime_for(hub).trained(hub)  # the workspace's model and its pack
    model, pack = trained.model, trained.pack
    parsed = model.parse(text, language=language, previous=previous)
    spec = pack.intents.get(parsed.intent) if parsed.intent else None
    return Understood(
        language=parsed.language,
        intent=parsed.intent,
        intent_signals=spec.signals if spec else frozenset(),
        bot_may_resolve=spec.bot_may_resolve if spec else False,
        sentiment=float(parsed.sentiment.get("score", 0.0)),
        human_request=parsed.human_request or requests_human(meta),
    )
