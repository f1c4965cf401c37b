"""Answers to offers: accept (the agent owns the journey), decline or time out (next best).

An offer that lapses counts as a miss; ``auto_away_after`` misses in a row set the agent
away, which withdraws their other pending offers so those customers are not left waiting.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock, timers
from relaydesk.agents.models import Agent
from relaydesk.bus import publish
from relaydesk.journeys.actions import change_owner
from relaydesk.journeys.states import JourneyOwner
from relaydesk.routing.actions.assign import ACTOR, Routed, assign_waiting, lock_journey
from relaydesk.routing.actions.loads import lock_load, offer_timer_key, release
from relaydesk.routing.events import AgentAvailabilityChanged, OfferAnswered
from relaydesk.routing.models import Assignment, QueueEntryRow
from relaydesk.routing.queries import load_context


class OfferNotFound(LookupError):
    pass


class OfferClosed(ValueError):
    """The offer was already answered, lapsed or withdrawn."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the offer is {status}, not pending")
        self.status = status


@dataclass(frozen=True)
class Answered:
    offer_id: uuid.UUID
    journey_id: uuid.UUID
    agent_id: uuid.UUID
    status: str
    next: Routed | None = None
    """What happened to the journey after a decline or timeout."""


async def _pending(session: AsyncSession, offer_id: uuid.UUID) -> Assignment:
    offer = await session.get(Assignment, offer_id)
    if offer is None:
        raise OfferNotFound(str(offer_id))
    await lock_journey(session, offer.journey_id)  # journey first, as everywhere
    offer = await session.scalar(
        select(Assignment)
        .where(Assignment.id == offer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert offer is not None
    if offer.status != "offered":
        raise OfferClosed("accepted" if offer.status in ("active", "ended") else offer.status)
    return offer


async def _announce(session: AsyncSession, offer: Assignment, status: str, actor: str) -> None:
    customer_id = offer.customer_id
    await publish(
        session,
        OfferAnswered(
            customer_id=customer_id,
            journey_id=offer.journey_id,
            offer_id=offer.id,
            agent_id=offer.agent_id,
            status=status,
        ),
        actor=actor,
    )


async def accept_offer(session: AsyncSession, offer_id: uuid.UUID, *, actor: str) -> Answered:
    offer = await _pending(session, offer_id)
    now = clock.now()
    if offer.expires_at is not None and now >= offer.expires_at:
        raise OfferClosed("expired")
    offer.status, offer.accepted_at = "active", now
    load = await lock_load(session, offer.agent_id)
    load.misses = 0
    await timers.cancel(session, offer_timer_key(offer.id))
    await session.execute(delete(QueueEntryRow).where(QueueEntryRow.journey_id == offer.journey_id))
    await change_owner(
        session,
        offer.journey_id,
        JourneyOwner.AGENT,
        reason="offer_accepted",
        actor=actor,
        agent_id=offer.agent_id,
    )
    await _announce(session, offer, "accepted", actor)
    return Answered(offer.id, offer.journey_id, offer.agent_id, "accepted")


async def _pass_on(
    session: AsyncSession, offer: Assignment, status: str, *, actor: str
) -> Answered:
    """Release the offer, keep the agent away from this journey, offer it to the next best;
    the agent's freed place is announced, so the queue offers them another waiting journey."""
    await release(session, offer, status, status)
    queued = await session.get(QueueEntryRow, offer.journey_id, with_for_update=True)
    keep_away = status in ("declined", "expired")  # a withdrawn offer says nothing of them
    if keep_away and queued is not None and str(offer.agent_id) not in queued.excluded:
        queued.excluded = [*queued.excluded, str(offer.agent_id)]
        await session.flush()
    await _announce(session, offer, status, actor)
    following = await assign_waiting(session, offer.journey_id, trigger=status, actor=actor)
    presence = await session.scalar(select(Agent.presence).where(Agent.id == offer.agent_id))
    if presence == "online":  # going away withdraws offers too: that one announces itself
        await publish(
            session,
            AgentAvailabilityChanged(
                agent_id=offer.agent_id, presence="online", reason="capacity_freed"
            ),
            actor=actor,
        )
    return Answered(offer.id, offer.journey_id, offer.agent_id, status, following)


async def decline_offer(session: AsyncSession, offer_id: uuid.UUID, *, actor: str) -> Answered:
    offer = await _pending(session, offer_id)
    answered = await _pass_on(session, offer, "declined", actor=actor)
    load = await lock_load(session, offer.agent_id)
    load.misses = 0  # an answer, like an accept: the misses were not "in a row"
    return answered


async def expire_offer(session: AsyncSession, offer_id: uuid.UUID) -> Answered | None:
    """The offer timer fired: a miss for the agent; None if the offer was answered already."""
    try:
        offer = await _pending(session, offer_id)
    except (OfferNotFound, OfferClosed):
        return None
    answered = await _pass_on(session, offer, "expired", actor=ACTOR)
    load = await lock_load(session, offer.agent_id)
    load.misses += 1
    limit = (await load_context(session)).config.auto_away_after
    if limit and load.misses >= limit:
        await set_presence(session, offer.agent_id, "away", actor=ACTOR, reason="missed_offers")
    return answered


class AgentNotFound(LookupError):
    pass


@dataclass(frozen=True)
class PresenceSet:
    agent_id: uuid.UUID
    presence: str
    load: float
    requeued: int


async def set_presence(
    session: AsyncSession, agent_id: uuid.UUID, presence: str, *, actor: str, reason: str = "set"
) -> PresenceSet:
    """Online agents receive offers; leaving withdraws pending offers (offered to others)."""
    if presence not in ("online", "away", "offline"):
        raise ValueError("presence is online, away or offline")
    agent = await session.get(Agent, agent_id)
    if agent is None or not agent.active:
        raise AgentNotFound(str(agent_id))
    return await _move_presence(session, agent, presence, actor=actor, reason=reason)


async def _move_presence(
    session: AsyncSession, agent: Agent, presence: str, *, actor: str, reason: str
) -> PresenceSet:
    agent_id = agent.id
    changed = agent.presence != presence
    # Presence first, so the journeys handed on below are not offered back to this agent.
    await session.execute(
        update(Agent)
        .where(Agent.id == agent_id)
        .values(presence=presence, updated_at=clock.now())
        .execution_options(synchronize_session="fetch")
    )
    requeued = 0
    if presence != "online":
        pending = (
            await session.scalars(
                select(Assignment.id)
                .where(Assignment.agent_id == agent_id, Assignment.status == "offered")
                .order_by(Assignment.journey_id)
            )
        ).all()
        for offer_id in pending:
            try:
                offer = await _pending(session, offer_id)
            except OfferClosed:
                continue
            await _pass_on(session, offer, "withdrawn", actor=actor)
            requeued += 1
    load = await lock_load(session, agent_id)
    if presence == "online":
        load.misses = 0
    if changed:
        await publish(
            session,
            AgentAvailabilityChanged(agent_id=agent_id, presence=presence, reason=reason),
            actor=actor,
        )
    return PresenceSet(agent_id, presence, load.load, requeued)


ROUTING_FIELDS = frozenset({"languages", "skills", "capacity", "teams", "active"})
"""The agent fields decisions read: a change to one may let a waiting journey move."""


async def agent_changed(
    session: AsyncSession, agent_id: uuid.UUID, fields: set[str], *, actor: str
) -> None:
    """An agent's profile was edited (console, workspace file), after the write. A deactivated
    agent goes offline (pending offers pass to others); an online agent who may now have the
    skill, language, team or room a waiting journey needs is announced, so the queue moves
    at once rather than at the next unrelated event."""
    if not fields & ROUTING_FIELDS:
        return
    agent = await session.get(Agent, agent_id)
    if agent is None:
        return
    if not agent.active:
        if agent.presence != "offline":
            await _move_presence(session, agent, "offline", actor=actor, reason="deactivated")
        return
    if agent.presence == "online":
        await publish(
            session,
            AgentAvailabilityChanged(agent_id=agent_id, presence="online", reason="profile"),
            actor=actor,
        )
