"""Journey lifecycle: resolving (reopening happens on ingest, within the window)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bus import publish
from relaydesk.journeys.events import JourneyResolved, JourneysCombined, JourneyWaiting
from relaydesk.journeys.models import Conversation, Journey, Message
from relaydesk.journeys.states import (
    ACTIVE_JOURNEY_STATUSES,
    ConversationStatus,
    JourneyTrigger,
    next_journey_status,
)


class JourneyNotFound(LookupError):
    pass


async def resolve_journey(
    session: AsyncSession, journey_id: uuid.UUID, *, outcome: str, actor: str
) -> Journey:
    """Mark the journey resolved and close its conversations."""
    journey = await session.scalar(
        select(Journey).where(Journey.id == journey_id).with_for_update()
    )
    if journey is None:
        raise JourneyNotFound(str(journey_id))
    now = clock.now()
    journey.status = next_journey_status(journey.status, JourneyTrigger.RESOLVE)
    journey.resolved_at = now
    journey.outcome = outcome
    journey.updated_at = now
    await session.execute(
        update(Conversation)
        .where(
            Conversation.journey_id == journey_id,
            Conversation.status == ConversationStatus.OPEN.value,
        )
        .values(status=ConversationStatus.CLOSED.value, closed_at=now)
    )
    await publish(
        session,
        JourneyResolved(customer_id=journey.customer_id, journey_id=journey.id, outcome=outcome),
        actor=actor,
    )
    return journey


async def wait_on_customer(session: AsyncSession, journey_id: uuid.UUID, *, actor: str) -> Journey:
    """The journey waits on the customer (SLA clocks pause); their next message reopens it."""
    journey = await session.scalar(
        select(Journey).where(Journey.id == journey_id).with_for_update()
    )
    if journey is None:
        raise JourneyNotFound(str(journey_id))
    journey.status = next_journey_status(journey.status, JourneyTrigger.WAIT_ON_CUSTOMER)
    journey.updated_at = clock.now()
    await publish(
        session, JourneyWaiting(customer_id=journey.customer_id, journey_id=journey.id), actor=actor
    )
    return journey


async def combine_active_journeys(
    session: AsyncSession, customer_id: uuid.UUID, *, actor: str
) -> int:
    """Fold a customer's active journeys into the oldest one (after a customer merge).

    Had we known they were one person, the later messages would have joined the open journey:
    conversations move over (same channel and thread: messages join the existing one), context
    merges (newer facts win), and the emptied journeys stay as ``combined`` tombstones that
    redirect to the one kept. Returns how many were folded.
    """
    active = (
        await session.scalars(
            select(Journey)
            .where(Journey.customer_id == customer_id, Journey.status.in_(ACTIVE_JOURNEY_STATUSES))
            .order_by(Journey.created_at, Journey.id)
            .with_for_update()
        )
    ).all()
    if len(active) < 2:
        return 0
    keeper, others = active[0], active[1:]
    kept = {
        (c.channel_id, c.thread_key): c
        for c in (
            await session.scalars(select(Conversation).where(Conversation.journey_id == keeper.id))
        ).all()
    }
    for other in sorted(others, key=lambda j: j.last_activity_at):
        conversations = (
            await session.scalars(select(Conversation).where(Conversation.journey_id == other.id))
        ).all()
        for conversation in conversations:
            target = kept.get((conversation.channel_id, conversation.thread_key))
            if target is None:
                conversation.journey_id = keeper.id
                kept[(conversation.channel_id, conversation.thread_key)] = conversation
                await session.execute(
                    update(Message)
                    .where(Message.conversation_id == conversation.id)
                    .values(journey_id=keeper.id)
                )
                continue
            await session.execute(
                update(Message)
                .where(Message.conversation_id == conversation.id)
                .values(journey_id=keeper.id, conversation_id=target.id)
            )
            target.last_message_at = max(target.last_message_at, conversation.last_message_at)
            if conversation.last_inbound_at and (
                target.last_inbound_at is None
                or conversation.last_inbound_at > target.last_inbound_at
            ):
                target.last_inbound_at = conversation.last_inbound_at
                target.reply_to = conversation.reply_to or target.reply_to
            await session.flush()
            await session.execute(delete(Conversation).where(Conversation.id == conversation.id))
        keeper.context = {**(keeper.context or {}), **(other.context or {})}
        keeper.last_activity_at = max(keeper.last_activity_at, other.last_activity_at)
        other.status = next_journey_status(other.status, JourneyTrigger.COMBINE)
        other.combined_into_id = keeper.id
        other.updated_at = clock.now()
        await session.execute(
            update(Journey)
            .where(Journey.combined_into_id == other.id)
            .values(combined_into_id=keeper.id)
        )
        await session.flush()
        await publish(
            session,
            JourneysCombined(
                customer_id=customer_id, journey_id=keeper.id, combined_journey_id=other.id
            ),
            actor=actor,
        )
    keeper.updated_at = clock.now()
    await session.flush()
    return len(others)
