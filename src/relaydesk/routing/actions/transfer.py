"""Journeys leaving people: resolved, handed elsewhere, or transferred (agent, team, bot)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.agents.models import Agent, Team
from relaydesk.bus import publish
from relaydesk.channels.models import Channel
from relaydesk.db import new_id
from relaydesk.journeys.actions import JourneyNotFound, change_owner
from relaydesk.journeys.models import Journey
from relaydesk.journeys.states import ACTIVE_JOURNEY_STATUSES, JourneyOwner
from relaydesk.routing.actions.assign import (
    Routed,
    assign_waiting,
    enqueue,
    holder,
    lock_journey,
)
from relaydesk.routing.actions.loads import lock_load, release
from relaydesk.routing.events import AgentAvailabilityChanged
from relaydesk.routing.models import Assignment, QueueEntryRow, RoutingDecision
from relaydesk.routing.pool import EPSILON
from relaydesk.routing.queries import channel_class, latest_inbound, load_context
from relaydesk.routing.understanding import Understood


async def end_holding(
    session: AsyncSession,
    journey_id: uuid.UUID,
    reason: str,
    *,
    actor: str,
    agent_id: uuid.UUID | None = None,
    before: datetime | None = None,
) -> Assignment | None:
    """End the journey's offer or assignment (only ``agent_id``'s, only one made before
    ``before``, if given) and announce the freed capacity; idempotent."""
    current = await holder(session, journey_id)
    if current is None or (agent_id is not None and current.agent_id != agent_id):
        return None
    if before is not None and current.created_at > before:
        return None  # a newer assignment (the same agent again) is not the one that ended
    await release(session, current, "ended" if current.status == "active" else "withdrawn", reason)
    presence = await session.scalar(select(Agent.presence).where(Agent.id == current.agent_id))
    await publish(
        session,
        AgentAvailabilityChanged(
            agent_id=current.agent_id, presence=presence or "offline", reason="capacity_freed"
        ),
        actor=actor,
    )
    return current


async def journey_closed(session: AsyncSession, journey_id: uuid.UUID, *, actor: str) -> bool:
    """A resolved (or combined) journey leaves the queue and frees its agent."""
    journey = await lock_journey(session, journey_id)
    if journey is None or journey.status in ACTIVE_JOURNEY_STATUSES:
        return False
    ended = await end_holding(session, journey_id, journey.status, actor=actor)
    gone = await session.execute(
        delete(QueueEntryRow).where(QueueEntryRow.journey_id == journey_id)
    )
    return ended is not None or bool(gone.rowcount)  # type: ignore[attr-defined]


async def count_outside_owner(
    session: AsyncSession, journey_id: uuid.UUID, agent_id: uuid.UUID, *, actor: str
) -> Assignment | None:
    """An owner set to an agent outside routing (console take-over, API, workspace) counts in
    that agent's load: record an active assignment for them (ending any other agent's offer),
    so resolve and transfer release it like any other; idempotent, and a no-op once the
    journey has moved on. A take-over may exceed capacity: the load is capped at 1.0."""
    journey = await lock_journey(session, journey_id)
    if (
        journey is None
        or journey.status not in ACTIVE_JOURNEY_STATUSES
        or journey.owner_type != JourneyOwner.AGENT.value
        or journey.owner_agent_id != agent_id
    ):
        return None
    current = await holder(session, journey_id)
    if current is not None and current.agent_id == agent_id:
        return None  # routing's own assignment, or already counted
    if current is not None:
        await end_holding(session, journey_id, "owner_changed", actor=actor)
    agent = await session.get(Agent, agent_id)
    if agent is None:
        return None
    message = await latest_inbound(session, journey_id)
    kind = None
    if message is not None:
        kind = await session.scalar(select(Channel.kind).where(Channel.id == message.channel_id))
    klass = channel_class(kind) if kind else "messaging"
    capacity = (agent.capacity or {}).get(klass, 0)
    weight = 1.0 / capacity if capacity > 0 else 1.0
    load = await lock_load(session, agent_id)
    now = clock.now()
    row = Assignment(
        id=new_id(),
        journey_id=journey_id,
        customer_id=journey.customer_id,
        agent_id=agent_id,
        status="active",
        channel_class=klass,
        weight=weight,
        created_at=now,
        accepted_at=now,
    )
    session.add(row)
    load.load, load.active, load.last_assigned_at = (
        min(1.0, load.load + weight),
        load.active + 1,
        now,
    )
    await session.execute(delete(QueueEntryRow).where(QueueEntryRow.journey_id == journey_id))
    await session.flush()
    return row


SUPERVISORS = ("supervisor", "admin")


class TransferRefused(ValueError):
    def __init__(self, code: str, detail: str, **facts: float | int | str) -> None:
        super().__init__(detail)
        self.code = code
        self.facts = facts
        """Figures behind the refusal (load, capacity, weight), for the API body."""


@dataclass(frozen=True)
class Transferred:
    journey_id: uuid.UUID
    to: str
    routed: Routed


async def _record_override(
    session: AsyncSession,
    journey: Journey,
    agent: Agent,
    forcer: Agent,
    load: float,
    weight: float,
    klass: str,
) -> None:
    """The decision trail says who put the agent over capacity, and by how much."""
    session.add(
        RoutingDecision(
            id=new_id(),
            journey_id=journey.id,
            trigger="transfer",
            target="agent",
            agent_id=agent.id,
            policy="override",
            reason="forced_over_capacity",
            value=0.0,
            currency=(await load_context(session)).config.currency or "EUR",
            explanation=(
                f"forced by {forcer.name} over capacity: load {load:.2f} + {klass} {weight:.2f} "
                f"> capacity 1.00"
            ),
            inputs={
                "forced_by": str(forcer.id),
                "load": round(load, 4),
                "weight": round(weight, 4),
                "capacity": 1.0,
                "channel_class": klass,
            },
            created_at=clock.now(),
        )
    )


async def _understood(session: AsyncSession, journey_id: uuid.UUID) -> Understood:
    """What the latest decision knew about the customer's words (no parsing in here)."""
    queued = await session.get(QueueEntryRow, journey_id)
    if queued is not None:
        return Understood.from_dict(queued.understood)
    inputs = await session.scalar(
        select(RoutingDecision.inputs)
        .where(RoutingDecision.journey_id == journey_id)
        .order_by(RoutingDecision.created_at.desc(), RoutingDecision.id.desc())
        .limit(1)
    )
    return Understood.from_dict(inputs)


async def transfer(
    session: AsyncSession,
    journey_id: uuid.UUID,
    to: Literal["agent", "team", "bot"],
    *,
    actor: str,
    reason: str,
    agent_id: uuid.UUID | None = None,
    team: str | None = None,
    forced_by: uuid.UUID | None = None,
) -> Transferred:
    """Hand an open journey to an agent (direct), a team (queued for its members) or back to
    the bot. An agent without room is refused (``over_capacity``, naming their load) unless
    a supervisor forces it (``forced_by``, an active supervisor or admin): then the override
    is stored as a decision."""
    journey = await lock_journey(session, journey_id)
    if journey is None:
        raise JourneyNotFound(str(journey_id))
    if journey.status not in ACTIVE_JOURNEY_STATUSES:
        raise TransferRefused("journey_closed", f"the journey is {journey.status}")
    understood = await _understood(session, journey_id)
    if to == "bot":
        await end_holding(session, journey_id, "transferred", actor=actor)
        await session.execute(delete(QueueEntryRow).where(QueueEntryRow.journey_id == journey_id))
        if journey.owner_type != JourneyOwner.BOT.value:
            await change_owner(session, journey_id, JourneyOwner.BOT, reason=reason, actor=actor)
        return Transferred(journey_id, "bot", Routed("bot"))
    if to == "team":
        if team is None or await session.scalar(select(Team.id).where(Team.name == team)) is None:
            raise TransferRefused("unknown_team", f"no team named {team!r}")
        await end_holding(session, journey_id, "transferred", actor=actor)
        queued = await enqueue(session, journey, understood, reason=reason, actor=actor, team=team)
        queued.excluded = []
        routed = await assign_waiting(session, journey_id, trigger="transfer", actor=actor)
        return Transferred(journey_id, "team", routed or Routed("queue"))
    assert agent_id is not None
    forcer = None
    if forced_by is not None:
        forcer = await session.get(Agent, forced_by)
        if forcer is None or not forcer.active or forcer.role not in SUPERVISORS:
            raise TransferRefused("not_supervisor", "only a supervisor or admin may force")
    agent = await session.get(Agent, agent_id)
    if agent is None or not agent.active:
        raise TransferRefused("unknown_agent", f"no active agent {agent_id}")
    if agent.presence != "online":
        raise TransferRefused("agent_unavailable", f"the agent is {agent.presence}")
    current = await holder(session, journey_id)
    if current is not None and current.agent_id == agent_id and current.status == "active":
        raise TransferRefused("already_assigned", "the journey is already this agent's")
    message = await latest_inbound(session, journey_id)
    kind = None
    if message is not None:
        kind = await session.scalar(select(Channel.kind).where(Channel.id == message.channel_id))
    klass = channel_class(kind) if kind else "messaging"
    capacity = (agent.capacity or {}).get(klass, 0)
    if capacity <= 0:
        raise TransferRefused("no_capacity", f"the agent takes no {klass} conversations")
    await end_holding(session, journey_id, "transferred", actor=actor)
    load = await lock_load(session, agent_id)
    # Presence again under the load row's lock: going offline takes the same lock, so an
    # agent who just went away is not handed a journey (the first check was unlocked).
    presence = await session.scalar(
        select(Agent.presence).where(Agent.id == agent_id).execution_options(populate_existing=True)
    )
    if presence != "online":
        raise TransferRefused("agent_unavailable", f"the agent is {presence}")
    weight = 1.0 / capacity
    over = load.load + weight > 1.0 + EPSILON
    if over and forcer is None:
        raise TransferRefused(
            "over_capacity",
            f"{agent.name} is at load {load.load:.2f} of capacity 1.00 "
            f"({load.active} open conversation{'s' if load.active != 1 else ''}); "
            f"a {klass} conversation needs {weight:.2f}; a supervisor may force it",
            load=round(load.load, 4),
            capacity=1.0,
            weight=round(weight, 4),
            active=load.active,
            channel_class=klass,
        )
    now = clock.now()
    if over and forcer is not None:
        await _record_override(session, journey, agent, forcer, load.load, weight, klass)
    session.add(
        Assignment(
            id=new_id(),
            journey_id=journey_id,
            customer_id=journey.customer_id,
            agent_id=agent_id,
            status="active",
            channel_class=klass,
            weight=weight,
            created_at=now,
            accepted_at=now,
        )
    )
    load.load, load.active, load.last_assigned_at = (
        min(1.0, load.load + weight),
        load.active + 1,
        now,
    )
    await session.execute(delete(QueueEntryRow).where(QueueEntryRow.journey_id == journey_id))
    await change_owner(
        session, journey_id, JourneyOwner.AGENT, reason=reason, actor=actor, agent_id=agent_id
    )
    return Transferred(journey_id, "agent", Routed("agent", agent_id))
