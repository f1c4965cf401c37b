"""Ingesting an inbound message: customer, journey, conversation, message, in one go."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bus import publish
from relaydesk.channels.actions import touch_inbound
from relaydesk.channels.base import InboundMessage
from relaydesk.channels.models import Channel
from relaydesk.clock import as_utc
from relaydesk.customers.actions import (
    SenderIdentities,
    resolve_sender,
)
from relaydesk.customers.identities import IdentityKey
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


@dataclass(frozen=True)
class Inbound:
    """One message to ingest, with the channel record it came in on."""

    channel: Channel
    message: InboundMessage

    @property
    def key(self) -> tuple[uuid.UUID, str]:
        return (self.channel.id, self.message.external_id)


async def find_duplicate(
    session: AsyncSession, channel_id: uuid.UUID, external_id: str
) -> IngestResult | None:
    return (await find_duplicates(session, [(channel_id, external_id)])).get(
        (channel_id, external_id)
    )


_MESSAGES = cast(Table, Message.__table__)
_FIND_DUPLICATES = select(
    _MESSAGES.c.channel_id,
    _MESSAGES.c.external_id,
    _MESSAGES.c.id,
    _MESSAGES.c.conversation_id,
    _MESSAGES.c.journey_id,
    _MESSAGES.c.customer_id,
).where(tuple_(_MESSAGES.c.channel_id, _MESSAGES.c.external_id).in_(bindparam("keys")))
"""Built once (Core, an expanding parameter): every inbound batch runs it."""


async def find_duplicates(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, str]]
) -> dict[tuple[uuid.UUID, str], IngestResult]:
    if not keys:
        return {}
    rows = await session.execute(_FIND_DUPLICATES, {"keys": list(keys)})
    return {
        (channel_id, str(external_id)): IngestResult(mid, cid, jid, cust, duplicate=True)
        for channel_id, external_id, mid, cid, jid, cust in rows
    }


async def ingest_one(
    session: AsyncSession,
    item: Inbound,
    journey_window: timedelta,
    *,
    owners: dict[IdentityKey, uuid.UUID] | None,
) -> IngestResult:
    """One message the batch could not do in bulk; ``owners``: its identities' owners when
    no earlier message of the batch can have changed them (or stored the same message)."""
    channel, inbound = item.channel, item.message
    if owners is None:
        duplicate = await find_duplicate(session, channel.id, inbound.external_id)
        if duplicate is not None:  # an earlier message of the same batch
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
        owners=owners,
    )
    customer_id = resolution.customer_id
    happened_at = happened_at_of(inbound, now)
    claimed = None
    if resolution.created:
        # Nothing of a customer created a moment ago can exist yet: no lookups.
        ((journey_id, conversation_id),) = await open_first(
            session, [(customer_id, item, happened_at)], now
        )
    else:
        # A survey answer joins the surveyed journey without reopening it (outreach/actions/
        # claims.py), so the bot and routing never take it for a new request; a request
        # (even one that carries a score) is passed on and goes the usual way.
        from relaydesk.outreach.actions.claims import claim_survey_answer

        claimed = await claim_survey_answer(session, customer_id, channel, inbound, now)
        if claimed is not None and claimed.answer is not None:
            survey = {"id": str(claimed.survey_id), "question": claimed.question}
            item = Inbound(channel, replace(inbound, meta={**inbound.meta, "survey": survey}))
        if claimed is not None and not claimed.passes_on:
            journey_id, conversation_id = claimed.journey_id, claimed.conversation_id
        else:
            journey_id, conversation_id = await _attach(
                session, customer_id, channel, inbound, journey_window, now, happened_at
            )
    (message_id,) = await insert_messages(
        session, [(item, customer_id, journey_id, conversation_id, happened_at)], now
    )
    if claimed is not None:
        from relaydesk.outreach.actions.claims import record_answer

        await record_answer(session, claimed, message_id)
    return IngestResult(message_id, conversation_id, journey_id, customer_id, duplicate=False)


def happened_at_of(inbound: InboundMessage, now: datetime) -> datetime:
    """The sender's time if plausible (not in the future beyond clock skew), else ours."""
    sent_at = as_utc(inbound.sent_at) if inbound.sent_at else None
    return sent_at if sent_at and sent_at <= now + CLOCK_SKEW else now


async def insert_messages(
    session: AsyncSession,
    rows: Sequence[tuple[Inbound, uuid.UUID, uuid.UUID, uuid.UUID, datetime]],
    now: datetime,
) -> list[uuid.UUID]:
    """Store the messages, note each channel's inbound and publish ``MessageReceived``."""
    ids = [new_id() for _ in rows]
    await session.execute(
        _INSERT_MESSAGE,
        [
            {
                "id": message_id,
                "conversation_id": conversation_id,
                "journey_id": journey_id,
                "customer_id": customer_id,
                "channel_id": item.channel.id,
                "external_id": item.message.external_id,
                "direction": "inbound",
                "author_type": item.message.author_type,
                "author_id": None,
                "text": item.message.text,
                "meta": item.message.meta,
                "sent_at": as_utc(item.message.sent_at) if item.message.sent_at else None,
                "created_at": happened_at,
                "received_at": now,
            }
            for message_id, (item, customer_id, journey_id, conversation_id, happened_at) in zip(
                ids, rows, strict=True
            )
        ],
    )
    for channel in {item.channel.id: item.channel for item, *_ in rows}.values():
        await touch_inbound(session, channel, now)
    for message_id, (item, customer_id, journey_id, conversation_id, _) in zip(
        ids, rows, strict=True
    ):
        await publish(
            session,
            MessageReceived(
                customer_id=customer_id,
                journey_id=journey_id,
                message_id=message_id,
                conversation_id=conversation_id,
                channel=item.channel.name,
            ),
        )
    return ids


async def open_first(
    session: AsyncSession,
    rows: Sequence[tuple[uuid.UUID, Inbound, datetime]],
    now: datetime,
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """New customers' journeys and conversations, written once with their final values."""
    ids = [(new_id(), new_id()) for _ in rows]
    await session.execute(
        _INSERT_JOURNEY,
        [
            {
                "id": journey_id,
                "customer_id": customer_id,
                "status": JourneyStatus.OPEN.value,
                "owner_type": "unassigned",
                "context": dict(item.message.context) if item.message.context else {},
                "created_at": now,
                "updated_at": now,
                "last_activity_at": max(now, happened_at),
                "reopen_count": 0,
            }
            for (journey_id, _), (customer_id, item, happened_at) in zip(ids, rows, strict=True)
        ],
    )
    await session.execute(
        _INSERT_CONVERSATION,
        [
            {
                "id": conversation_id,
                "journey_id": journey_id,
                "customer_id": customer_id,
                "channel_id": item.channel.id,
                "thread_key": item.message.thread_key,
                "status": ConversationStatus.OPEN.value,
                "reply_to": item.message.reply_to or {},
                "created_at": now,
                "last_message_at": max(now, happened_at),
                "last_inbound_at": happened_at if item.message.opens_window else None,
            }
            for (journey_id, conversation_id), (customer_id, item, happened_at) in zip(
                ids, rows, strict=True
            )
        ],
    )
    for (journey_id, conversation_id), (customer_id, item, _) in zip(ids, rows, strict=True):
        name = item.channel.name
        await publish(
            session, JourneyOpened(customer_id=customer_id, journey_id=journey_id, channel=name)
        )
        await publish(
            session,
            ConversationOpened(
                customer_id=customer_id,
                journey_id=journey_id,
                conversation_id=conversation_id,
                channel=name,
            ),
        )
    return ids


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
    journey_values, conversation_values = joined(journey, conversation, inbound, happened_at, now)
    for key, value in journey_values.items():
        setattr(journey, key, value)
    for key, value in conversation_values.items():
        setattr(conversation, key, value)
    return journey.id, conversation.id


def joined(
    journey: Any, conversation: Any, inbound: InboundMessage, happened_at: datetime, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a customer message changes on the journey and conversation it joins (given their
    current ``context``, ``last_activity_at``, ``last_message_at``, ``reply_to`` and
    ``last_inbound_at``); the status change is the caller's, through the state machine."""
    journey_values: dict[str, Any] = {
        "context": {**(journey.context or {}), **inbound.context}
        if inbound.context
        else journey.context,
        "last_activity_at": max(journey.last_activity_at, happened_at),
        "updated_at": now,
    }
    last = conversation.last_inbound_at
    conversation_values: dict[str, Any] = {
        "last_message_at": max(conversation.last_message_at, happened_at),
        "reply_to": inbound.reply_to or conversation.reply_to,
        "last_inbound_at": (happened_at if last is None else max(last, happened_at))
        if inbound.opens_window
        else last,
    }
    return journey_values, conversation_values


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
