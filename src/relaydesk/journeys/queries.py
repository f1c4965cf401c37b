"""Reads for journeys and timelines (shared by the API and the console)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.channels.models import Channel
from relaydesk.journeys.models import Conversation, Journey, Message
from relaydesk.journeys.schemas import (
    ConversationOut,
    JourneyOut,
    OwnerOut,
    TimelineItem,
)
from relaydesk.routing.queries import latest_decision
from relaydesk.sla.queries import sla_view


async def current_journey_id(session: AsyncSession, journey_id: uuid.UUID) -> uuid.UUID | None:
    """Follow ``combined_into_id`` to the journey that now holds ``journey_id``'s history."""
    seen: set[uuid.UUID] = set()
    while journey_id not in seen:
        seen.add(journey_id)
        row = (
            await session.execute(select(Journey.combined_into_id).where(Journey.id == journey_id))
        ).first()
        if row is None:
            return None
        if row[0] is None:
            return journey_id
        journey_id = row[0]
    return None


async def journey_view(session: AsyncSession, journey_id: uuid.UUID) -> JourneyOut | None:
    journey = await session.get(Journey, journey_id)
    if journey is None:
        return None
    rows = (
        await session.execute(
            select(Conversation, Channel.name, Channel.kind)
            .join(Channel, Channel.id == Conversation.channel_id)
            .where(Conversation.journey_id == journey_id)
            .order_by(Conversation.created_at, Conversation.id)
        )
    ).all()
    conversations = [
        ConversationOut(
            id=c.id,
            channel=name,
            channel_kind=kind,
            thread=c.thread_key or None,
            status=c.status,
            created_at=c.created_at,
            last_message_at=c.last_message_at,
            closed_at=c.closed_at,
        )
        for c, name, kind in rows
    ]
    channels = list(dict.fromkeys(c.channel for c in conversations))
    return JourneyOut(
        id=journey.id,
        customer_id=journey.customer_id,
        status=journey.status,
        channels=channels,
        conversations=conversations,
        context=journey.context or {},
        owner=OwnerOut(type=journey.owner_type, agent_id=journey.owner_agent_id),
        outcome=journey.outcome,
        created_at=journey.created_at,
        last_activity_at=journey.last_activity_at,
        resolved_at=journey.resolved_at,
        reopen_count=journey.reopen_count,
        handoff=journey.handoff,
        routing=await latest_decision(session, journey.id),
        sla=await sla_view(session, journey.id),
    )


def _author(author_type: str, author_id: str | None) -> str:
    return f"{author_type}:{author_id}" if author_id else author_type


async def timeline(
    session: AsyncSession,
    customer_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 500,
) -> list[TimelineItem]:
    """Every message of the customer on every channel, oldest first."""
    query = (
        select(Message, Channel.name, Channel.kind)
        .join(Channel, Channel.id == Message.channel_id)
        .where(Message.customer_id == customer_id)
        .order_by(Message.created_at, Message.id)
        .limit(limit)
    )
    if after is not None:
        at, message_id = after
        query = query.where(
            or_(Message.created_at > at, and_(Message.created_at == at, Message.id > message_id))
        )
    rows = (await session.execute(query)).all()
    return [
        TimelineItem(
            message_id=m.id,
            channel=name,
            channel_kind=kind,
            conversation_id=m.conversation_id,
            journey_id=m.journey_id,
            direction=m.direction,
            author=_author(m.author_type, m.author_id),
            text=m.text,
            created_at=m.created_at,
            delivery_status=m.delivery_status,
        )
        for m, name, kind in rows
    ]
