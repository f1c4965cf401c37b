"""Routing in the worker: new journeys get a decision, the queue moves on every change.

- ``MessageReceived`` on a journey owned by ``unassigned`` (and ``JourneyReopened``):
  understand the message, then decide bot / queue / agent (actions record why).
- ``OwnerChanged`` to ``queue`` (a bot handoff): enqueue and try to assign; away from an
  agent by someone else: free that agent's capacity.
- An agent coming online or freeing capacity: offer waiting journeys, best first.
- A resolved or combined journey leaves the queue and frees its agent.
- The offer timer: the agent missed it; offer the journey to the next best.
- A relaxation timer (``routing.relaxation``): the journey has waited long enough for a wider
  set of agents; try it again.
- A journey queued for a person, or the queue moving: tell waiting customers their position
  and expected wait (``routing.wait_notices``; the same estimate agents see).

Every handler is idempotent: the actions re-check the journey under its lock.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bus import Event, StoredEvent, on
from relaydesk.customers.models import Customer
from relaydesk.hub import Hub
from relaydesk.journeys.events import (
    JourneyReopened,
    JourneyResolved,
    JourneysCombined,
    MessageReceived,
    OwnerChanged,
)
from relaydesk.journeys.listeners import LIVE_TOPIC
from relaydesk.journeys.models import Journey, Message
from relaydesk.journeys.states import ACTIVE_JOURNEY_STATUSES, JourneyOwner
from relaydesk.routing.actions import (
    OFFER_TIMER,
    RELAX_TIMER,
    assign_waiting,
    count_outside_owner,
    end_holding,
    expire_offer,
    journey_closed,
    relax_waiting,
    route_journey,
    take_handoff,
)
from relaydesk.routing.actions.notices import tell_wait, worth_telling
from relaydesk.routing.events import (
    AgentAvailabilityChanged,
    JourneyRouted,
    OfferAnswered,
    OfferMade,
)
from relaydesk.routing.models import HOLDING, Assignment, QueueEntryRow, WaitNotice
from relaydesk.routing.pool import EPSILON
from relaydesk.routing.pool_cache import shared_pool
from relaydesk.routing.queries import latest_inbound, load_context, previous_texts, queue_view
from relaydesk.routing.queue import QueueEntry, ordered
from relaydesk.routing.understanding import Understood, understand
from relaydesk.timers import DueTimer, on_timer

DRAIN_LIMIT = 50
"""Waiting journeys tried per availability event (best first)."""


async def _understand_latest(
    hub: Hub, journey_id: uuid.UUID, message_id: uuid.UUID | None = None
) -> Understood | None:
    async with hub.db.read() as session:
        message = (
            await session.get(Message, message_id)
            if message_id is not None
            else await latest_inbound(session, journey_id)
        )
        if message is None or message.direction != "inbound":
            return None
        previous = tuple(await previous_texts(session, message))
        locale = await session.scalar(
            select(Customer.locale).where(Customer.id == message.customer_id)
        )
    return await understand(
        hub,
        message.text,
        language=locale[:2].lower() if locale else None,
        previous=previous,
        meta=message.meta,
    )


async def _owner(hub: Hub, journey_id: uuid.UUID) -> tuple[str, str] | None:
    async with hub.db.read() as session:
        row = (
            await session.execute(
                select(Journey.owner_type, Journey.status).where(Journey.id == journey_id)
            )
        ).first()
    return (row[0], row[1]) if row else None


@on(MessageReceived)
async def route_first_contact(hub: Hub, event: StoredEvent) -> None:
    journey_id = event.journey_id
    if journey_id is None:
        return
    state = await _owner(hub, journey_id)
    if state is None or state[0] != JourneyOwner.UNASSIGNED.value:
        return
    if state[1] not in ACTIVE_JOURNEY_STATUSES:
        return
    understood = await _understand_latest(hub, journey_id, uuid.UUID(event.payload["message_id"]))
    if understood is None:
        return
    await hub.db.transaction(lambda s: route_journey(s, journey_id, understood, trigger="message"))
    hub.wake_worker()


async def _handed_over_since(hub: Hub, journey_id: uuid.UUID, since: datetime) -> bool:
    """Whether someone gave the journey to an owner after ``since``: a late event must not
    undo a newer decision (an agent who took the journey meanwhile keeps it)."""
    async with hub.db.read() as session:
        later = await session.scalar(
            select(Event.id)
            .where(
                Event.journey_id == journey_id,
                Event.name == OwnerChanged.name,
                Event.occurred_at > since,
            )
            .limit(1)
        )
    return later is not None


@on(JourneyReopened)
async def route_reopened(hub: Hub, event: StoredEvent) -> None:
    journey_id = event.journey_id
    if journey_id is None:
        return
    if await _handed_over_since(hub, journey_id, event.occurred_at):
        return
    understood = await _understand_latest(hub, journey_id)
    if understood is None:
        return
    await hub.db.transaction(lambda s: route_journey(s, journey_id, understood, trigger="reopened"))
    hub.wake_worker()


@on(OwnerChanged)
async def follow_owner(hub: Hub, event: StoredEvent) -> None:
    journey_id = event.journey_id
    if journey_id is None:
        return
    payload = event.payload
    previous = payload.get("previous_agent_id")
    kept = payload["to_owner"] == "agent" and payload.get("agent_id") == previous
    if payload["from_owner"] == "agent" and previous and not kept:
        await hub.db.transaction(
            lambda s: end_holding(
                s,
                journey_id,
                "owner_changed",
                actor="routing",
                agent_id=uuid.UUID(previous),
                before=event.occurred_at,
            )
        )
    if payload["to_owner"] == JourneyOwner.AGENT.value and payload.get("agent_id"):
        agent_id = uuid.UUID(str(payload["agent_id"]))
        await hub.db.transaction(
            lambda s: count_outside_owner(s, journey_id, agent_id, actor="routing")
        )
    if payload["to_owner"] != JourneyOwner.QUEUE.value:
        hub.wake_worker()
        return
    async with hub.db.read() as session:
        queued = await session.get(QueueEntryRow, journey_id) is not None
    if queued:
        await hub.db.transaction(lambda s: assign_waiting(s, journey_id, trigger="queue"))
    else:
        understood = await _understand_latest(hub, journey_id) or Understood()
        reason = str(payload.get("reason") or "handoff")
        await hub.db.transaction(lambda s: take_handoff(s, journey_id, understood, reason=reason))
    hub.wake_worker()


@on(AgentAvailabilityChanged)
async def agent_available(hub: Hub, event: StoredEvent) -> None:
    if event.payload.get("presence") == "online":
        await drain_queue(hub)


@on(OfferMade)
@on(OfferAnswered)
async def announce_offer(hub: Hub, event: StoredEvent) -> None:
    """Tell live consoles (after commit) so the offered agent's inbox refreshes; ids only."""
    kind = "offer.created" if event.name == OfferMade.name else "offer.answered"
    await hub.broadcast.publish(LIVE_TOPIC, {"type": kind, "journey_id": str(event.journey_id)})


@on(JourneyResolved)
async def journey_resolved(hub: Hub, event: StoredEvent) -> None:
    if event.journey_id is not None:
        journey_id = event.journey_id
        await hub.db.transaction(lambda s: journey_closed(s, journey_id, actor="routing"))
        hub.wake_worker()


@on(JourneysCombined)
async def journeys_combined(hub: Hub, event: StoredEvent) -> None:
    for raw in (event.journey_id, event.payload.get("combined_journey_id")):
        if raw is not None:
            closed = uuid.UUID(str(raw))
            await hub.db.transaction(partial(journey_closed, journey_id=closed, actor="routing"))
    hub.wake_worker()


async def drain_queue(hub: Hub, *, limit: int = DRAIN_LIMIT) -> int:
    """Offer waiting journeys (best first, those without a pending offer) while agents have
    room; returns how many got an agent."""
    now = clock.now()
    async with hub.db.read() as session:
        ctx = await load_context(session)
        held = select(Assignment.journey_id).where(Assignment.status.in_(HOLDING))
        rows = (
            await session.scalars(
                select(QueueEntryRow).where(QueueEntryRow.journey_id.not_in(held))
            )
        ).all()
        pool = await shared_pool(session, ctx.default_language)
    if not rows or not any(a.load < 1.0 - EPSILON for a in pool.agents.values()):
        return 0
    entries = [QueueEntry(r.journey_id, r.value, r.enqueued_at, r.sla_due_at) for r in rows]
    assigned = 0
    for entry in ordered(entries, now, ctx.config)[:limit]:
        routed = await hub.db.transaction(
            partial(assign_waiting, journey_id=entry.journey_id, trigger="queue")
        )
        if routed is not None and routed.target == "agent":
            assigned += 1
    if assigned:
        hub.wake_worker()
    return assigned


@on_timer(OFFER_TIMER, in_transaction=True)
async def offer_timed_out(hub: Hub, timer: DueTimer, session: AsyncSession) -> None:
    """Exactly once with the timer's own transaction: a miss, and the next best agent."""
    await expire_offer(session, uuid.UUID(str(timer.payload["offer_id"])))


@on_timer(RELAX_TIMER, in_transaction=True)
async def relaxation_due(hub: Hub, timer: DueTimer, session: AsyncSession) -> None:
    """A waiting journey reached its next relaxation step: more agents may now take it."""
    await relax_waiting(session, uuid.UUID(str(timer.payload["journey_id"])))


async def tell_waiting(hub: Hub) -> int:
    """Send the wait notices worth sending now (position moved enough, not too often), with
    the queue's own positions and estimates (``queue_view``); returns how many were sent."""
    now = clock.now()
    async with hub.db.read() as session:
        settings = (await load_context(session)).config.wait_notices
        if not settings.enabled:
            return 0
        view = await queue_view(session, now)
        ids = [item.journey_id for item in view.items]
        told = {
            row.journey_id: row
            for row in (
                await session.scalars(select(WaitNotice).where(WaitNotice.journey_id.in_(ids)))
            ).all()
        }
    sent = 0
    for item in view.items:
        if item.offered_to is not None:
            continue  # a person is about to answer
        if not worth_telling(told.get(item.journey_id), item.position, settings, now.timestamp()):
            continue
        if await hub.db.transaction(
            partial(
                tell_wait,
                journey_id=item.journey_id,
                position=item.position,
                wait_seconds=item.estimated_wait_seconds,
                settings=settings,
            )
        ):
            sent += 1
    if sent:
        hub.wake_worker()
    return sent


@on(JourneyRouted)
async def queued_for_a_person(hub: Hub, event: StoredEvent) -> None:
    if event.payload.get("target") == "queue":
        await tell_waiting(hub)


@on(OwnerChanged)
async def queue_moved(hub: Hub, event: StoredEvent) -> None:
    """Someone left the queue (an agent took it, a transfer, the bot): the others move up."""
    if event.payload.get("from_owner") == JourneyOwner.QUEUE.value:
        await tell_waiting(hub)
