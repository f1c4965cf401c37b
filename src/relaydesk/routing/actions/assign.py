"""Routing a journey and reserving an agent: the decision, the queue entry, the offer.

Every function runs inside the caller's write transaction. Lock order is always the journey
row first (``change_owner`` locks it too), then the agent's ``agent_loads`` row; the load is
re-summed from the assignments under that lock, so two workers cannot both fill the last
place of one agent, and the partial unique index on ``routing_assignments`` means a journey
never has two holders.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock, timers
from relaydesk.agents.models import Agent
from relaydesk.bus import publish
from relaydesk.db import new_id
from relaydesk.journeys.actions import change_owner
from relaydesk.journeys.models import Journey
from relaydesk.journeys.states import ACTIVE_JOURNEY_STATUSES, JourneyOwner
from relaydesk.routing.actions.loads import (
    OFFER_TIMER,
    RELAX_TIMER,
    lock_load,
    offer_timer_key,
    relax_timer_key,
)
from relaydesk.routing.assignment import Decision, JourneySnapshot, decide
from relaydesk.routing.events import JourneyRouted, OfferMade
from relaydesk.routing.models import HOLDING, Assignment, QueueEntryRow, RoutingDecision
from relaydesk.routing.pool import EPSILON, AgentPool
from relaydesk.routing.pool_cache import shared_pool
from relaydesk.routing.queries import RoutingContext, journey_snapshot, load_context
from relaydesk.routing.schemas import RoutingConfig
from relaydesk.routing.understanding import Understood
from relaydesk.sla.queries import queue_due_at

ACTOR = "routing"
RESERVE_ATTEMPTS = 3
"""Re-decisions when the chosen agent filled up between the read and the lock."""
QUIET_TRIGGERS = frozenset({"queue", "relaxed"})
"""Re-tries of a journey already waiting (the queue draining, a relaxation step): its
relaxation timers were set when it started to wait without an agent."""


@dataclass(frozen=True)
class Routed:
    target: str
    """bot | queue | agent (offered or, with auto_accept, assigned)"""
    agent_id: uuid.UUID | None = None
    offer_id: uuid.UUID | None = None
    decision_id: uuid.UUID | None = None


async def lock_journey(session: AsyncSession, journey_id: uuid.UUID) -> Journey | None:
    return await session.scalar(select(Journey).where(Journey.id == journey_id).with_for_update())


async def holder(session: AsyncSession, journey_id: uuid.UUID) -> Assignment | None:
    """The journey's offered or active assignment, locked."""
    return await session.scalar(
        select(Assignment)
        .where(Assignment.journey_id == journey_id, Assignment.status.in_(HOLDING))
        .with_for_update()
    )


async def record(
    session: AsyncSession,
    journey: Journey,
    snapshot: JourneySnapshot,
    decision: Decision,
    *,
    trigger: str,
    actor: str,
    currency: str,
) -> RoutingDecision:
    row = RoutingDecision(
        id=new_id(),
        journey_id=journey.id,
        trigger=trigger,
        target=decision.target,
        agent_id=decision.agent_id,
        policy=decision.policy,
        reason=decision.reason,
        value=round(decision.value.value, 2),
        currency=currency,
        explanation=decision.explanation,
        inputs=decision.inputs(snapshot),
        created_at=clock.now(),
    )
    session.add(row)
    await publish(
        session,
        JourneyRouted(
            customer_id=journey.customer_id,
            journey_id=journey.id,
            decision_id=row.id,
            target=decision.target,
            agent_id=decision.agent_id,
            reason=decision.reason,
            value=row.value,
            currency=currency,
        ),
        actor=actor,
    )
    return row


async def enqueue(
    session: AsyncSession,
    journey: Journey,
    understood: Understood,
    *,
    reason: str,
    actor: str,
    value: float = 0.0,
    team: str | None = None,
) -> QueueEntryRow:
    """Put the journey in the queue (owner ``queue``); keeps an existing entry's place."""
    now = clock.now()
    row = await session.get(QueueEntryRow, journey.id, with_for_update=True)
    if row is None:
        row = QueueEntryRow(
            journey_id=journey.id,
            enqueued_at=now,
            value=value,
            team=team,
            excluded=[],
            reason=reason[:200],
            understood=understood.as_dict(),
            updated_at=now,
            sla_due_at=await queue_due_at(session, journey.id),
        )
        session.add(row)
    else:
        row.team, row.reason, row.updated_at = team, reason[:200], now
        row.understood = understood.as_dict()
    if journey.owner_type != JourneyOwner.QUEUE.value:
        await change_owner(session, journey.id, JourneyOwner.QUEUE, reason=reason, actor=actor)
    await session.flush()
    return row


async def set_sla_due(
    session: AsyncSession, journey_id: uuid.UUID, due_at: datetime | None
) -> None:
    """The SLA due time the queue ranks a waiting journey by (sla/ keeps it current)."""
    await session.execute(
        update(QueueEntryRow)
        .where(
            QueueEntryRow.journey_id == journey_id,
            QueueEntryRow.sla_due_at.is_distinct_from(due_at),
        )
        .values(sla_due_at=due_at)
        .execution_options(synchronize_session=False)
    )


async def keep_relaxing(
    session: AsyncSession, journey_id: uuid.UUID, enqueued_at: datetime, config: RoutingConfig
) -> None:
    """A journey waits without an agent: wake the queue for it at each relaxation step still
    ahead (``routing.relaxation``), when a wider set of agents may take it. Nothing else
    would: agents' availability events only move the queue when an agent frees up."""
    now = clock.now()
    ahead = [
        (due, relax_timer_key(journey_id, index), {"journey_id": str(journey_id)})
        for index, step in enumerate(config.relaxation)
        if (due := enqueued_at + step.after) > now
    ]
    await timers.schedule_many(session, RELAX_TIMER, ahead)


async def relax_waiting(session: AsyncSession, journey_id: uuid.UUID) -> Routed | None:
    """A relaxation step is due: try the waiting journey again with the wider requirement
    (``requirement`` reads the time waited); None if it left the queue or an offer is out."""
    if await session.get(QueueEntryRow, journey_id) is None:
        return None  # assigned, closed or handed back meanwhile: nothing to lock
    return await assign_waiting(session, journey_id, trigger="relaxed")


async def _reserve(
    session: AsyncSession,
    journey: Journey,
    snapshot: JourneySnapshot,
    decision: Decision,
    ctx: RoutingContext,
    *,
    actor: str,
) -> Assignment | None:
    """Offer the journey to the chosen agent (or assign it, with auto_accept), if they still
    have room once their load row is locked; None if they filled up meanwhile."""
    assert decision.agent_id is not None
    now = clock.now()
    weight = float(decision.details["weight"])
    load = await lock_load(session, decision.agent_id)
    presence = await session.scalar(select(Agent.presence).where(Agent.id == decision.agent_id))
    if presence != "online" or load.load + weight > 1.0 + EPSILON:
        return None
    direct = ctx.config.auto_accept
    offer = Assignment(
        id=new_id(),
        journey_id=journey.id,
        customer_id=journey.customer_id,
        agent_id=decision.agent_id,
        status="active" if direct else "offered",
        channel_class=snapshot.channel_class,
        weight=weight,
        created_at=now,
        expires_at=None if direct else now + ctx.config.offer_timeout,
        accepted_at=now if direct else None,
    )
    session.add(offer)
    load.load = min(1.0, load.load + weight)
    load.active += 1
    load.last_assigned_at = now
    await session.flush()
    if direct:
        await session.execute(delete(QueueEntryRow).where(QueueEntryRow.journey_id == journey.id))
        await change_owner(
            session,
            journey.id,
            JourneyOwner.AGENT,
            reason=decision.reason,
            actor=actor,
            agent_id=decision.agent_id,
        )
        return offer
    assert offer.expires_at is not None
    await timers.schedule(
        session,
        OFFER_TIMER,
        offer.expires_at,
        key=offer_timer_key(offer.id),
        payload={"offer_id": str(offer.id)},
    )
    await publish(
        session,
        OfferMade(
            customer_id=journey.customer_id,
            journey_id=journey.id,
            offer_id=offer.id,
            agent_id=offer.agent_id,
            expires_at=offer.expires_at.isoformat(),
        ),
        actor=actor,
    )
    return offer


async def _place(
    session: AsyncSession,
    journey: Journey,
    snapshot: JourneySnapshot,
    decision: Decision,
    pool: AgentPool,
    ctx: RoutingContext,
    *,
    actor: str,
) -> tuple[Decision, Assignment | None]:
    """Reserve the decided agent; if they filled up meanwhile, decide again with fresh loads."""
    for _ in range(RESERVE_ATTEMPTS):
        if decision.target != "agent" or decision.agent_id is None:
            return decision, None
        offer = await _reserve(session, journey, snapshot, decision, ctx, actor=actor)
        if offer is not None:
            chosen = pool.get(decision.agent_id)
            if chosen is not None:  # so the next decision in this process sees it at once
                pool.update(
                    chosen.id,
                    load=min(1.0, chosen.load + offer.weight),
                    last_assigned=offer.created_at.timestamp(),
                )
            return decision, offer
        fresh = await lock_load(session, decision.agent_id)
        presence = await session.scalar(select(Agent.presence).where(Agent.id == fresh.agent_id))
        pool.update(decision.agent_id, load=fresh.load, presence=presence or "offline")
        decision = decide(snapshot, pool, clock.now(), ctx.config)
    return replace(decision, target="queue", agent_id=None), None


async def route_journey(
    session: AsyncSession,
    journey_id: uuid.UUID,
    understood: Understood,
    *,
    trigger: str,
    actor: str = ACTOR,
) -> Routed | None:
    """First contact (owner ``unassigned``) or a reopened journey: bot, queue or agent.

    None when there is nothing to do (another worker routed it, or it is closed)."""
    journey = await lock_journey(session, journey_id)
    if journey is None or journey.status not in ACTIVE_JOURNEY_STATUSES:
        return None
    if trigger == "message" and journey.owner_type != JourneyOwner.UNASSIGNED.value:
        return None
    if await holder(session, journey_id) is not None:
        return None  # someone holds it (a reopened journey already re-offered)
    now = clock.now()
    ctx = await load_context(session)
    currency = ctx.config.currency or "EUR"
    snapshot = await journey_snapshot(session, journey, understood, ctx, now)
    pool = await shared_pool(session, ctx.default_language)
    decision = decide(snapshot, pool, now, ctx.config)
    if decision.target == "bot":
        await session.execute(delete(QueueEntryRow).where(QueueEntryRow.journey_id == journey_id))
        if journey.owner_type != JourneyOwner.BOT.value:
            await change_owner(
                session, journey_id, JourneyOwner.BOT, reason=decision.reason, actor=actor
            )
        row = await record(
            session, journey, snapshot, decision, trigger=trigger, actor=actor, currency=currency
        )
        return Routed("bot", decision_id=row.id)
    queued = await enqueue(
        session,
        journey,
        understood,
        reason=decision.reason,
        actor=actor,
        value=decision.value.value,
    )
    snapshot = replace(snapshot, waiting_since=queued.enqueued_at)
    decision, offer = await _place(session, journey, snapshot, decision, pool, ctx, actor=actor)
    row = await record(
        session, journey, snapshot, decision, trigger=trigger, actor=actor, currency=currency
    )
    if offer is None:
        await keep_relaxing(session, journey_id, queued.enqueued_at, ctx.config)
        return Routed("queue", decision_id=row.id)
    return Routed("agent", offer.agent_id, offer.id, row.id)


async def assign_waiting(
    session: AsyncSession,
    journey_id: uuid.UUID,
    *,
    trigger: str,
    actor: str = ACTOR,
    record_queue: bool = False,
) -> Routed | None:
    """Try to give a queued journey to the best agent now; None if it is not waiting (gone,
    or an offer is pending). A journey that stays queued records a decision saying so, except
    on a re-try of a journey already waiting (``QUIET_TRIGGERS``) whose latest decision says
    so already; ``record_queue`` forces one (its first decision, after a handoff)."""
    journey = await lock_journey(session, journey_id)
    if journey is None or journey.owner_type != JourneyOwner.QUEUE.value:
        return None
    queued = await session.get(QueueEntryRow, journey_id, with_for_update=True)
    if queued is None or journey.status not in ACTIVE_JOURNEY_STATUSES:
        return None
    if await holder(session, journey_id) is not None:
        return None
    now = clock.now()
    ctx = await load_context(session)
    understood = Understood.from_dict(queued.understood)
    snapshot = await journey_snapshot(session, journey, understood, ctx, now, queued)
    pool = await shared_pool(session, ctx.default_language)
    decision = decide(snapshot, pool, now, ctx.config)
    queued.value = round(decision.value.value, 2)
    decision, offer = await _place(session, journey, snapshot, decision, pool, ctx, actor=actor)
    if offer is None and trigger not in QUIET_TRIGGERS:
        await keep_relaxing(session, journey_id, queued.enqueued_at, ctx.config)
    if offer is None and not record_queue and trigger in QUIET_TRIGGERS:
        return Routed("queue")  # it waited already: the stored decision still says so
    row = await record(
        session,
        journey,
        snapshot,
        decision,
        trigger=trigger,
        actor=actor,
        currency=ctx.config.currency or "EUR",
    )
    if offer is None:
        return Routed("queue", decision_id=row.id)
    return Routed("agent", offer.agent_id, offer.id, row.id)


async def take_handoff(
    session: AsyncSession,
    journey_id: uuid.UUID,
    understood: Understood,
    *,
    reason: str,
    actor: str = ACTOR,
) -> Routed | None:
    """Someone else (the bot) handed the journey to the queue: enqueue it and try to assign."""
    journey = await lock_journey(session, journey_id)
    if journey is None or journey.owner_type != JourneyOwner.QUEUE.value:
        return None
    if journey.status not in ACTIVE_JOURNEY_STATUSES:
        return None
    first = await session.get(QueueEntryRow, journey_id) is None
    if first:
        await enqueue(session, journey, understood, reason=reason, actor=actor)
    return await assign_waiting(
        session,
        journey_id,
        trigger="handoff" if first else "queue",
        actor=actor,
        record_queue=first,
    )
