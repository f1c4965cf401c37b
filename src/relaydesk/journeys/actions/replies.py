"""Queueing replies to a journey (the outbound half of journeys/actions.py).

A reply is checked against the channel's rules (journeys/reply_rules.py: consent, the
provider's reply window) before it is stored; the stored message and its ``MessageQueued``
event are written in one transaction and delivered by channels/delivery.py through the
outbox.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bus import publish
from relaydesk.channels.base import consent_key
from relaydesk.channels.models import Channel
from relaydesk.channels.registry import adapter_class
from relaydesk.customers.models import Consent, Identity
from relaydesk.db import new_id
from relaydesk.journeys.events import MessageQueued
from relaydesk.journeys.models import Conversation, Journey, Message
from relaydesk.journeys.reply_rules import ChannelSnapshot, check_reply
from relaydesk.journeys.states import ConversationStatus


class ReplyRefused(Exception):
    """The reply breaks the channel's rules; ``reason`` says why, for the agent."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Reply:
    text: str
    author_type: str = "agent"
    author_id: str | None = None
    channel: str | None = None
    """Reply on this channel; by default the channel the customer wrote on last."""
    buttons: tuple[str, ...] = ()
    template: dict[str, Any] | None = None
    tag: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    """Stored on the message and passed to the adapter: ``buttons`` ([{"id", "title"}]) show
    as buttons where the channel ``supports_buttons``; ``purpose: marketing`` also honours a
    marketing-only opt-out."""


async def _conversation_for_reply(
    session: AsyncSession, journey: Journey, channel_name: str | None
) -> tuple[Conversation, Channel]:
    rows = (
        await session.execute(
            select(Conversation, Channel)
            .join(Channel, Channel.id == Conversation.channel_id)
            .where(Conversation.journey_id == journey.id)
        )
    ).all()
    candidates = [
        (c, ch)
        for c, ch in rows
        if ch.name == channel_name
        or (channel_name is None and adapter_class(ch.kind).takes_written_replies)
    ]
    if candidates:
        return max(
            candidates,
            key=lambda pair: (pair[0].last_inbound_at or pair[0].created_at, pair[0].created_at),
        )
    if channel_name is None and rows:
        raise ReplyRefused(
            "no_written_replies",
            "the journey has only calls, which cannot carry a written reply; name a channel "
            "to reply on (SMS, WhatsApp, email)",
        )
    if channel_name is None:
        raise ReplyRefused("no_conversation", "the journey has no conversation to reply on")
    channel = await session.scalar(select(Channel).where(Channel.name == channel_name))
    if channel is None:
        raise ReplyRefused("unknown_channel", f"no channel named {channel_name!r}")
    identities = (
        await session.scalars(select(Identity).where(Identity.customer_id == journey.customer_id))
    ).all()
    reply_to = adapter_class(channel.kind).address_from_identities(
        [(i.kind, i.scope, i.value) for i in identities], channel.name
    )
    if reply_to is None:
        raise ReplyRefused(
            "no_address", f"the customer has no address on {channel.name} ({channel.kind})"
        )
    now = clock.now()
    conversation = Conversation(
        id=new_id(),
        journey_id=journey.id,
        customer_id=journey.customer_id,
        channel_id=channel.id,
        thread_key="",
        status=ConversationStatus.OPEN.value,
        reply_to=reply_to,
        created_at=now,
        last_message_at=now,
    )
    session.add(conversation)
    await session.flush()
    return conversation, channel


async def queue_reply(session: AsyncSession, journey_id: uuid.UUID, reply: Reply) -> Message:
    """Store an outbound message for delivery, or raise ``ReplyRefused`` with the reason."""
    journey = await session.scalar(
        select(Journey).where(Journey.id == journey_id).with_for_update()
    )
    if journey is None:
        raise ReplyRefused("journey_not_found", f"no journey {journey_id}")
    conversation, channel = await _conversation_for_reply(session, journey, reply.channel)
    revoked = (
        await session.scalars(
            select(Consent.channel).where(
                Consent.customer_id == journey.customer_id,
                Consent.channel.in_([consent_key(channel.name, p) for p in ("all", "marketing")]),
                Consent.status == "revoked",
            )
        )
    ).all()
    snapshot = ChannelSnapshot(
        name=channel.name,
        kind=channel.kind,
        enabled=channel.enabled,
        reachable=True,
        last_inbound_at=conversation.last_inbound_at,
        revoked=frozenset(revoked),
    )
    now = clock.now()
    verdict = check_reply(
        snapshot,
        now,
        marketing=reply.meta.get("purpose") == "marketing",
        template=bool(reply.template),
        tag=bool(reply.tag),
        text_length=len(reply.text),
    )
    if verdict.refusal is not None:
        raise ReplyRefused(verdict.refusal.code, verdict.refusal.reason)
    message = Message(
        id=new_id(),
        conversation_id=conversation.id,
        journey_id=journey.id,
        customer_id=journey.customer_id,
        channel_id=channel.id,
        external_id=None,
        direction="outbound",
        author_type=reply.author_type,
        author_id=reply.author_id,
        text=reply.text,
        meta={
            **reply.meta,
            **({"buttons": list(reply.buttons)} if reply.buttons else {}),
            **({"template": reply.template} if reply.template else {}),
            **({"tag": reply.tag} if reply.tag else {}),
        },
        sent_at=None,
        created_at=now,
        received_at=now,
        delivery_status="queued",
        delivery_updated_at=now,
    )
    session.add(message)
    conversation.last_message_at = now
    journey.last_activity_at = now
    journey.updated_at = now
    await session.flush()
    await publish(
        session,
        MessageQueued(
            customer_id=journey.customer_id,
            journey_id=journey.id,
            message_id=message.id,
            conversation_id=conversation.id,
            channel=channel.name,
        ),
    )
    return message
