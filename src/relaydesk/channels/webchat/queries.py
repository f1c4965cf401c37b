"""Reads for the widget: who a visitor is, what they may see, where to push live messages.

A visitor sees the messages of *their customer* on *this channel*. Until they verify an
email address their customer is theirs alone (the hub created it for their visitor handle);
after verifying, it is the customer who owns the address, so their widget shows that
customer's web chat conversations (on any device where they verified).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.channels.models import Channel
from relaydesk.channels.webchat.adapter import KIND, message_frame
from relaydesk.channels.webchat.models import WebchatVerification
from relaydesk.channels.webchat.protocol import HISTORY_LIMIT
from relaydesk.customers.models import Identity
from relaydesk.journeys.models import Message

SHOWN_REPLIES = ("sent", "delivered", "read")
"""Replies appear once delivery accepted them (queued ones arrive live when sent)."""


async def visitor_customer(session: AsyncSession, channel: str, visitor: str) -> uuid.UUID | None:
    """The customer holding the visitor's handle (identities move with merges)."""
    return await session.scalar(
        select(Identity.customer_id).where(
            Identity.kind == "handle", Identity.scope == channel, Identity.value == visitor
        )
    )


async def visitors_of(session: AsyncSession, channel: str, customer_id: uuid.UUID) -> list[str]:
    """Every widget visitor (browser) of the customer on this channel."""
    rows = await session.scalars(
        select(Identity.value).where(
            Identity.customer_id == customer_id,
            Identity.kind == "handle",
            Identity.scope == channel,
        )
    )
    return list(rows)


async def history(
    session: AsyncSession, channel_id: uuid.UUID, customer_id: uuid.UUID, visitor: str
) -> tuple[list[dict[str, Any]], bool]:
    """The latest messages as frames, oldest first, and whether that is all of them."""
    rows = (
        await session.scalars(
            select(Message)
            .where(Message.customer_id == customer_id, Message.channel_id == channel_id)
            .where((Message.direction == "inbound") | Message.delivery_status.in_(SHOWN_REPLIES))
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(HISTORY_LIMIT + 1)
        )
    ).all()
    complete = len(rows) <= HISTORY_LIMIT
    frames = [frame_of(m, visitor) for m in reversed(rows[:HISTORY_LIMIT])]
    return frames, complete


def frame_of(message: Message, visitor: str) -> dict[str, Any]:
    return message_frame(
        message_id=str(message.id),
        direction=message.direction,
        author_type=message.author_type,
        text=message.text,
        created_at=message.created_at,
        external=message.external_id,
        visitor=visitor,
        meta=message.meta or {},
        status=message.delivery_status,
    )


@dataclass(frozen=True)
class PushTarget:
    message: Message
    channel: str
    visitors: list[str]


async def push_target(session: AsyncSession, message_id: uuid.UUID) -> PushTarget | None:
    """A web chat message and the visitors to show it to, or None for other channels."""
    row = (
        await session.execute(
            select(Message, Channel.name, Channel.kind)
            .join(Channel, Channel.id == Message.channel_id)
            .where(Message.id == message_id)
        )
    ).first()
    if row is None or row[2] != KIND:
        return None
    message, channel = row[0], row[1]
    return PushTarget(message, channel, await visitors_of(session, channel, message.customer_id))


@dataclass(frozen=True)
class EmailState:
    address: str
    status: str
    attempts: int


async def email_state(session: AsyncSession, channel: str, visitor: str) -> EmailState | None:
    """The visitor's latest address request (what the widget shows), if any."""
    row = await latest_verification(session, channel, visitor)
    return None if row is None else EmailState(row.email, row.status, row.attempts)


async def latest_verification(
    session: AsyncSession, channel: str, visitor: str, *, for_update: bool = False
) -> WebchatVerification | None:
    query = (
        select(WebchatVerification)
        .where(WebchatVerification.channel == channel, WebchatVerification.visitor == visitor)
        .order_by(WebchatVerification.created_at.desc(), WebchatVerification.id.desc())
        .limit(1)
    )
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def enabled_channels(session: AsyncSession) -> list[str]:
    """Names of the enabled web chat channels, alphabetically."""
    rows = await session.scalars(
        select(Channel.name)
        .where(Channel.kind == KIND, Channel.enabled.is_(True))
        .order_by(Channel.name)
    )
    return list(rows)
