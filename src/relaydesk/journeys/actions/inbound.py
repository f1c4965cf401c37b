"""Ingesting an inbound message: customer, journey, conversation, message, in one go."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bus import publish
from relaydesk.channels.actions import touch_inbound
from relaydesk.channels.base import InboundMessage
from relaydesk.channels.models import Channel
from relaydesk.clock import as_utc
from relaydesk.customers.actions import SenderIdentities, resolve_sender
from relaydesk.db import new_id
from relaydesk.journeys.events import (
    ChannelSwitched,
    ConversationOpened,
    JourneyOpened,
    JourneyReopened,
    MessageReceived,
)
from relaydesk.journeys.models import Conversation, Journey, Message
from relaydesk.journeys.states import (
    ACTIVE_JOURNEY_STATUSES,
    ConversationStatus,
    ConversationTrigger,
    JourneyStatus,
    JourneyTrigger,
    next_conversation_status,
    next_journey_status,
)

CLOCK_SKEW = timedelta(minutes=5)

# Prebuilt inserts: built once instead of per message (statement coercion showed in profiles).
_INSERT_JOURNEY = insert(cast(Table, Journey.__table__))
_INSERT_CONVERSATION = insert(cast(Table, Conversation.__table__))
_INSERT_MESSAGE = insert(cast(Table, Message.__table__))


@dataclass(frozen=True)
class IngestResult:
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    journey_id: uuid.UUID
    customer_id: uuid.UUID
    duplicate: bool


async def find_duplicate(
    session: AsyncSession, channel_id: uuid.UUID, external_id: str
) -> IngestResult | None:
    row = (
        await session.execute(
            select(
                Message.id, Message.conversation_id, Message.journey_id, Message.customer_id
            ).where(Message.channel_id == channel_id, Message.external_id == external_id)
        )
    ).first()
    if row is None:
        return None
    return IngestResult(row[0], row[1], row[2], row[3], duplicate=True)


async def ingest_inbound(
    session: AsyncSession,
    channel: Channel,
    inbound: InboundMessage,
    *,
    journey_window: timedelta,
) -> IngestResult:
    """Store one customer message exactly once and attach it to the customer's journey.

    Resolve the sender to one customer, join their active journey (or reopen one resolved
    within ``journey_window``, or open a new one), find or open the conversation on this
    channel, store the message and publish ``MessageReceived``. A repeat of the same
    (channel, external id) returns the original ids and writes nothing.
    """
    duplicate = await find_duplicate(session, channel.id, inbound.external_id)
    if duplicate is not None:
        return duplicate
    now = clock.now()
    resolution = await resolve_sender(
        session,
        SenderIdentities(
            trusted=inbound.sender.identities,
            claims=inbound.sender.claims,
            name=inbound.sender.name,
            channel=channel.name,
        ),
    )
    customer_id = resolution.customer_id
    sent_at = as_utc(inbound.sent_at) if inbound.sent_at else None
    happened_at = sent_at if sent_at and sent_at <= now + CLOCK_SKEW else now
    claimed = None
    if resolution.created:
        # Nothing of a customer created a moment ago can exist yet: no lookups.
        journey_id, conversation_id = await _open_first(
            session, customer_id, channel, inbound, now, happened_at
        )
    else:
        # A survey answer joins the surveyed journey without reopening it (outreach/actions/
        # claims.py), so the bot and routing never take it for a new request.
        from relaydesk.outreach.actions.claims import claim_survey_answer

        claimed = await claim_survey_answer(session, customer_id, channel, inbound, now)
        if claimed is not None:
            journey_id, conversation_id = claimed.journey_id, claimed.conversation_id
        else:
            journey_id, conversation_id = await _attach(
                session, customer_id, channel, inbound, journey_window, now, happened_at
            )
    message_id = new_id()
    await session.execute(
        _INSERT_MESSAGE,
        {
            "id": message_id,
            "conversation_id": conversation_id,
            "journey_id": journey_id,
            "customer_id": customer_id,
            "channel_id": channel.id,
            "external_id": inbound.external_id,
            "direction": "inbound",
            "author_type": inbound.author_type,
            "author_id": None,
            "text": inbound.text,
            "meta": inbound.meta
            if claimed is None
            else {
                **inbound.meta,
                "survey": {"id": str(claimed.survey_id), "question": claimed.question},
            },
            "sent_at": sent_at,
            "created_at": happened_at,
            "received_at": now,
        },
    )
    await touch_inbound(session, channel, now)
    if claimed is not None:
        from relaydesk.outreach.actions.claims import record_answer

        await record_answer(session, claimed, message_id)
    await publish(
        session,
        MessageReceived(
            customer_id=customer_id,
            journey_id=journey_id,
            message_id=message_id,
            conversation_id=conversation_id,
            channel=channel.name,
        ),
    )
    return IngestResult(message_id, conversation_id, journey_id, customer_id, duplicate=False)


async def _open_first(
    session: AsyncSession,
    customer_id: uuid.UUID,
    channel: Channel,
    inbound: InboundMessage,
    now: datetime,
    happened_at: datetime,
) -> tuple[uuid.UUID, uuid.UUID]:
    """A new customer's journey and conversation, written once with their final values."""
    journey_id, conversation_id = new_id(), new_id()
    await session.execute(
        _INSERT_JOURNEY,
        {
            "id": journey_id,
            "customer_id": customer_id,
            "status": JourneyStatus.OPEN.value,
            "owner_type": "unassigned",
            "context": dict(inbound.context) if inbound.context else {},
            "created_at": now,
            "updated_at": now,
            "last_activity_at": max(now, happened_at),
            "reopen_count": 0,
        },
    )
    await publish(
        session, JourneyOpened(customer_id=customer_id, journey_id=journey_id, channel=channel.name)
    )
    await session.execute(
        _INSERT_CONVERSATION,
        {
            "id": conversation_id,
            "journey_id": journey_id,
            "customer_id": customer_id,
            "channel_id": channel.id,
            "thread_key": inbound.thread_key,
            "status": ConversationStatus.OPEN.value,
            "reply_to": inbound.reply_to or {},
            "created_at": now,
            "last_message_at": max(now, happened_at),
            "last_inbound_at": happened_at if inbound.opens_window else None,
        },
    )
    await publish(
        session,
        ConversationOpened(
            customer_id=customer_id,
            journey_id=journey_id,
            conversation_id=conversation_id,
            channel=channel.name,
        ),
    )
    return journey_id, conversation_id


async def _attach(
    session: AsyncSession,
    customer_id: uuid.UUID,
    channel: Channel,
    inbound: InboundMessage,
    journey_window: timedelta,
    now: datetime,
    happened_at: datetime,
) -> tuple[uuid.UUID, uuid.UUID]:
    """A known customer: the journey and conversation the message joins, updated for it."""
    threaded = await _threaded_conversation(session, channel, customer_id, inbound.thread_refs)
    journey = await _journey_for(
        session, customer_id, channel, journey_window, now, prefer=threaded
    )
    thread_key = threaded.thread_key if threaded is not None else inbound.thread_key
    inbound_at = happened_at if inbound.opens_window else None
    conversation = await _conversation_for(session, journey, channel, thread_key, now, inbound_at)
    if inbound.context:
        journey.context = {**(journey.context or {}), **inbound.context}
    journey.last_activity_at = max(journey.last_activity_at, happened_at)
    journey.updated_at = now
    conversation.last_message_at = max(conversation.last_message_at, happened_at)
    if inbound.reply_to:
        conversation.reply_to = inbound.reply_to
    if inbound.opens_window:
        last = conversation.last_inbound_at
        conversation.last_inbound_at = happened_at if last is None else max(last, happened_at)
    return journey.id, conversation.id


async def _threaded_conversation(
    session: AsyncSession, channel: Channel, customer_id: uuid.UUID, refs: tuple[str, ...]
) -> Conversation | None:
    """The customer's conversation on this channel that holds a message the new one answers."""
    if not refs:
        return None
    rows = (
        await session.execute(
            select(Message.external_id, Conversation)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.channel_id == channel.id,
                Message.external_id.in_(refs),
                Message.customer_id == customer_id,
            )
        )
    ).all()
    by_ref: dict[str | None, Conversation] = {ref: conv for ref, conv in rows}  # noqa: C416
    return next((by_ref[ref] for ref in refs if ref in by_ref), None)


async def _journey_for(
    session: AsyncSession,
    customer_id: uuid.UUID,
    channel: Channel,
    window: timedelta,
    now: datetime,
    *,
    prefer: Conversation | None = None,
) -> Journey:
    """The journey of the thread answered (if still active or within the window), else the
    customer's active journey, else one resolved within the window (reopened), else a new one."""
    if prefer is not None:
        threaded = await session.get(Journey, prefer.journey_id)
        if threaded is not None and threaded.status in ACTIVE_JOURNEY_STATUSES:
            threaded.status = next_journey_status(threaded.status, JourneyTrigger.CUSTOMER_MESSAGE)
            return threaded
        if (
            threaded is not None
            and threaded.resolved_at is not None
            and threaded.resolved_at >= now - window
        ):
            return await _reopen(session, threaded, channel)
    journey = await session.scalar(
        select(Journey)
        .where(Journey.customer_id == customer_id, Journey.status.in_(ACTIVE_JOURNEY_STATUSES))
        .order_by(Journey.last_activity_at.desc(), Journey.id.desc())
        .limit(1)
    )
    if journey is not None:
        journey.status = next_journey_status(journey.status, JourneyTrigger.CUSTOMER_MESSAGE)
        return journey
    recent = await session.scalar(
        select(Journey)
        .where(
            Journey.customer_id == customer_id,
            Journey.status == JourneyStatus.RESOLVED.value,
            Journey.resolved_at >= now - window,
        )
        .order_by(Journey.resolved_at.desc(), Journey.id.desc())
        .limit(1)
    )
    if recent is not None:
        return await _reopen(session, recent, channel)
    journey = Journey(
        id=new_id(),
        customer_id=customer_id,
        status=JourneyStatus.OPEN.value,
        owner_type="unassigned",
        context={},
        created_at=now,
        updated_at=now,
        last_activity_at=now,
        reopen_count=0,
    )
    session.add(journey)
    await session.flush()
    await publish(
        session, JourneyOpened(customer_id=customer_id, journey_id=journey.id, channel=channel.name)
    )
    return journey


async def _reopen(session: AsyncSession, journey: Journey, channel: Channel) -> Journey:
    journey.status = next_journey_status(journey.status, JourneyTrigger.REOPEN)
    journey.resolved_at = None
    journey.outcome = None
    journey.reopen_count += 1
    await publish(
        session,
        JourneyReopened(
            customer_id=journey.customer_id, journey_id=journey.id, channel=channel.name
        ),
    )
    return journey


async def _conversation_for(
    session: AsyncSession,
    journey: Journey,
    channel: Channel,
    thread_key: str,
    now: datetime,
    inbound_at: datetime | None,
) -> Conversation:
    conversations = (
        await session.scalars(
            select(Conversation)
            .where(Conversation.journey_id == journey.id)
            .order_by(Conversation.last_message_at.desc())
        )
    ).all()
    for conversation in conversations:
        if conversation.channel_id == channel.id and conversation.thread_key == thread_key:
            if conversation.status == ConversationStatus.CLOSED.value:
                conversation.status = next_conversation_status(
                    conversation.status, ConversationTrigger.REOPEN
                )
                conversation.closed_at = None
            return conversation
    conversation = Conversation(
        id=new_id(),
        journey_id=journey.id,
        customer_id=journey.customer_id,
        channel_id=channel.id,
        thread_key=thread_key,
        status=ConversationStatus.OPEN.value,
        reply_to={},
        created_at=now,
        last_message_at=now,
        last_inbound_at=inbound_at,
    )
    session.add(conversation)
    await session.flush()
    await publish(
        session,
        ConversationOpened(
            customer_id=journey.customer_id,
            journey_id=journey.id,
            conversation_id=conversation.id,
            channel=channel.name,
        ),
    )
    previous = next((c for c in conversations if c.channel_id != channel.id), None)
    if previous is not None:
        from_name = await session.scalar(
            select(Channel.name).where(Channel.id == previous.channel_id)
        )
        await publish(
            session,
            ChannelSwitched(
                customer_id=journey.customer_id,
                journey_id=journey.id,
                from_channel=from_name or "",
                to_channel=channel.name,
            ),
        )
    return conversation
