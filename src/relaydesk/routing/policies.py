"""Who should take a new journey, the bot or a person: the four routing policies.

``value`` is the default; ``complexity``, ``bot_first`` and ``human_first`` exist so their
outcomes can be compared on the same traffic. Under every policy an explicit request for a
person is honoured at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from relaydesk.routing.schemas import RoutingConfig
from relaydesk.routing.value import money

Target = Literal["bot", "person"]


@dataclass(frozen=True, slots=True)
class PolicyInput:
    channel: str | None
    intent: str | None
    bot_may_resolve: bool
    """From the bot pack: the bot can finish this intent on its own."""
    human_request: bool
    value: float
    currency: str


@dataclass(frozen=True, slots=True)
class PolicyOutcome:
    target: Target
    policy: str
    reason: str
    """A stable code (human_request, value_above_threshold, bot_resolvable, ...)."""
    detail: str
    """The same, in words, for the agent and the audit trail."""


def is_complex(intent: str | None, bot_may_resolve: bool, config: RoutingConfig) -> bool:
    rule = config.intents.get(intent or "")
    if rule is not None and rule.complex is not None:
        return rule.complex
    return intent is not None and not bot_may_resolve


def choose(inp: PolicyInput, config: RoutingConfig) -> PolicyOutcome:
    policy, threshold = config.override(inp.channel, inp.intent)
    if inp.human_request:
        return PolicyOutcome("person", policy, "human_request", "the customer asked for a person")
    intent = (inp.intent or "").replace("_", " ") or None
    if policy == "human_first":
        return PolicyOutcome("person", policy, "human_first", "every journey goes to a person")
    if policy == "bot_first":
        return PolicyOutcome("bot", policy, "bot_first", "every journey starts with the bot")
    if policy == "complexity":
        if is_complex(inp.intent, inp.bot_may_resolve, config):
            return PolicyOutcome("person", policy, "complex", f"{intent} needs a person")
        what = f"{intent} is simple" if intent else "no intent yet; the bot asks"
        return PolicyOutcome("bot", policy, "simple", what)
    above = f"value {money(inp.value, inp.currency)} ≥ threshold {money(threshold, inp.currency)}"
    if inp.value >= threshold:
        return PolicyOutcome("person", policy, "value_above_threshold", above)
    below = f"value {money(inp.value, inp.currency)} < threshold {money(threshold, inp.currency)}"
    if inp.intent is not None and inp.bot_may_resolve:
        return PolicyOutcome("bot", policy, "bot_resolvable", f"{below}; the bot resolves {intent}")
    if inp.intent is None:
        return PolicyOutcome("person", policy, "no_intent", f"{below}; intent not recognised")
    return PolicyOutcome(
        "person", policy, "bot_cannot_resolve", f"{below}; {intent} needs a person"
    )
