"""The router: ``decide(journey, agents, now, config) -> Decision``, a pure function.

It values the journey, applies the policy (bot or person), and for a person picks the best
agent that is online, under capacity and has the required language and skill (relaxed the
longer the journey waits), preferring the customer's previous agent. No agent → queue.
The live hub (routing/actions.py) and the simulator both call it on plain snapshots.
"""

from __future__ import annotations

import math
import uuid
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from relaydesk.routing.policies import PolicyInput, PolicyOutcome, choose
from relaydesk.routing.pool import EPSILON, AgentPool, AgentSnapshot
from relaydesk.routing.queue import QueueEntry, priority
from relaydesk.routing.schemas import RoutingConfig
from relaydesk.routing.value import CustomerValue, Signals, ValueEstimate, estimate

DecisionTarget = Literal["bot", "queue", "agent"]
INF = math.inf


@dataclass(frozen=True, slots=True)
class JourneySnapshot:
    id: uuid.UUID
    channel: str | None = None
    channel_class: str = "messaging"
    language: str | None = None
    signals: Signals = field(default_factory=Signals)
    customer: CustomerValue = field(default_factory=CustomerValue)
    bot_may_resolve: bool = False
    human_request: bool = False
    needs_person: bool = False
    """Already handed to people (bot handoff, transfer, back in the queue): no policy."""
    team: str | None = None
    """Only members of this team (a transfer to a team)."""
    previous_agent_id: uuid.UUID | None = None
    previous_agent_at: datetime | None = None
    """When the previous agent last handled this customer (for continuity)."""
    waiting_since: datetime | None = None
    sla_due_at: datetime | None = None
    excluded_agents: frozenset[uuid.UUID] = frozenset()
    """Agents who declined or let an offer for this journey time out."""


@dataclass(frozen=True, slots=True)
class Requirement:
    language: str | None
    skill: str | None
    level: int

    def describe(self) -> str:
        parts = [f"language {self.language}" if self.language else "any language"]
        parts.append(f"{self.skill} ≥ level {self.level}" if self.skill else "any skill")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Decision:
    target: DecisionTarget
    agent_id: uuid.UUID | None
    policy: str
    reason: str
    value: ValueEstimate
    priority: float
    requirement: Requirement | None
    explanation: str
    details: dict[str, Any] = field(default_factory=dict)

    def inputs(self, journey: JourneySnapshot) -> dict[str, Any]:
        """What the decision was made from, JSON-ready, for the audit trail."""
        s = journey.signals
        return {
            "channel": journey.channel,
            "channel_class": journey.channel_class,
            "language": journey.language,
            "intent": s.intent,
            "intent_signals": sorted(s.intent_signals),
            "sentiment": s.sentiment,
            "tier": s.tier,
            "contacts_7d": s.contacts_7d,
            "channels_tried": s.channels_tried,
            "sla_breached": s.sla_breached,
            "human_request": journey.human_request,
            "bot_may_resolve": journey.bot_may_resolve,
            "needs_person": journey.needs_person,
            "team": journey.team,
            "excluded_agents": sorted(str(a) for a in journey.excluded_agents),
            "value": self.value.as_dict(),
            "priority": round(self.priority, 3),
            "requirement": None
            if self.requirement is None
            else {
                "language": self.requirement.language,
                "skill": self.requirement.skill,
                "level": self.requirement.level,
            },
            **self.details,
        }


def requirement(
    journey: JourneySnapshot, pool: AgentPool, now: datetime, config: RoutingConfig
) -> Requirement:
    """The skill this journey needs, relaxed step by step as it waits."""
    intent = journey.signals.intent
    rule = config.intents.get(intent or "")
    skill = rule.skill if rule is not None and rule.skill else None
    if skill is None and intent is not None and pool.has_skill(intent):
        skill = intent
    level = rule.level if rule is not None and rule.level else 1
    language = journey.language
    waited = now - (journey.waiting_since or now)
    for step in config.relaxation:
        if waited < step.after:
            break
        level = min(level, step.level) if step.level is not None else level
        skill = None if step.skill == "any" else skill
        language = None if step.language == "any" else language
    return Requirement(language, skill, level)


def _eligible(agent: AgentSnapshot | None, journey: JourneySnapshot) -> bool:
    return (
        agent is not None
        and agent.presence == "online"
        and agent.id not in journey.excluded_agents
        and agent.fits(journey.channel_class)
    )


def best_agent(
    journey: JourneySnapshot, pool: AgentPool, need: Requirement
) -> AgentSnapshot | None:
    """Highest skill level first, then lowest load, then longest since last assignment."""
    if journey.team is not None:
        members = [a for a in pool.team_members(journey.team) if _eligible(a, journey)]
        return min(members, key=lambda a: a.key, default=None)
    ceiling = pool.load_ceiling(journey.channel_class)
    excluded = journey.excluded_agents
    levels = range(3, need.level - 1, -1) if need.skill else (0,)
    for level in levels:
        keys = pool.ranked(need.language, need.skill, level)
        for index in range(bisect_right(keys, (ceiling, INF, 0))):
            agent = pool.by_key(keys[index])
            if agent.id not in excluded and agent.fits(journey.channel_class):
                return agent
    return None


def _continuity(
    journey: JourneySnapshot, pool: AgentPool, now: datetime, config: RoutingConfig
) -> AgentSnapshot | None:
    previous = pool.get(journey.previous_agent_id)
    if previous is None or journey.team is not None or not _eligible(previous, journey):
        return None
    at = journey.previous_agent_at
    if at is None or now - at > config.continuity:
        return None
    return previous


def decide(
    journey: JourneySnapshot, agents: AgentPool, now: datetime, config: RoutingConfig
) -> Decision:
    currency = config.currency or "EUR"
    value = estimate(journey.signals, journey.customer, config, currency)
    entry = QueueEntry(journey.id, value.value, journey.waiting_since or now, journey.sla_due_at)
    points = priority(entry, now, config)
    if journey.needs_person and not journey.human_request:
        policy, _ = config.override(journey.channel, journey.signals.intent)
        outcome = PolicyOutcome("person", policy, "handed_to_people", "handed to people")
    else:
        outcome = choose(
            PolicyInput(
                channel=journey.channel,
                intent=journey.signals.intent,
                bot_may_resolve=journey.bot_may_resolve,
                human_request=journey.human_request,
                value=value.value,
                currency=currency,
            ),
            config,
        )
    why = f"{outcome.detail}; {value.explanation()}"
    if outcome.target == "bot":
        return Decision("bot", None, outcome.policy, outcome.reason, value, points, None, why)
    need = requirement(journey, agents, now, config)
    agent = _continuity(journey, agents, now, config)
    how = "previous agent (continuity)"
    if agent is None:
        agent = best_agent(journey, agents, need)
        how = f"best match for {need.describe()}"
    if agent is None:
        waiting = f"{why}; waiting for {need.describe()}"
        if journey.team:
            waiting += f" in team {journey.team}"
        return Decision("queue", None, outcome.policy, outcome.reason, value, points, need, waiting)
    weight = agent.weight(journey.channel_class) or 1.0
    load_after = min(1.0, agent.load + weight) if agent.load + weight <= 1 + EPSILON else 1.0
    return Decision(
        "agent",
        agent.id,
        outcome.policy,
        outcome.reason,
        value,
        points,
        need,
        f"{why}; agent chosen: {how}, load {agent.load:.2f} → {load_after:.2f}",
        {"weight": weight, "continuity": how.startswith("previous")},
    )
