"""Journeys (a customer's problem, first contact to resolution), conversations, messages."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from relaydesk.db import Base, new_id


class Journey(Base):
    __tablename__ = "journeys"
    __table_args__ = (
        Index("ix_journeys_customer_status", "customer_id", "status"),
        # The console's inbox lists journeys by latest activity (migration 0013).
        Index("ix_journeys_last_activity", "last_activity_at"),
        Index("ix_journeys_owner_activity", "owner_type", "owner_agent_id", "last_activity_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(16))
    """See journeys/states.py; only transitions listed there may change it."""
    owner_type: Mapped[str] = mapped_column(String(16), default="unassigned")
    owner_agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id"))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Facts gathered so far (order number, account, issue), shared by every channel."""
    outcome: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(default=0)
    combined_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("journeys.id"))
    """Set when folded into another journey; its id keeps redirecting there."""
    handoff: Mapped[dict[str, Any] | None]
    """The bot's handoff package (bot/handoff.py): summary, intent, facts, reason."""


class Conversation(Base):
    """The part of a journey that happened on one channel (one thread on that channel)."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_journey", "journey_id", "created_at"),
        Index("ix_conversations_customer_channel", "customer_id", "channel_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id"))
    thread_key: Mapped[str] = mapped_column(String(300), default="")
    """Channel-specific thread identity (an email thread root); "" for one thread per channel."""
    status: Mapped[str] = mapped_column(String(16))
    reply_to: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Where replies go on this channel, as the latest inbound message said (adapter-defined)."""
    created_at: Mapped[datetime]
    last_message_at: Mapped[datetime]
    last_inbound_at: Mapped[datetime | None]
    """Starts the provider's reply window (WhatsApp, Messenger: 24 h)."""
    closed_at: Mapped[datetime | None]


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id"),
        Index("ix_messages_customer_time", "customer_id", "created_at"),
        Index("ix_messages_conversation_time", "conversation_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id"))
    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id"), index=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id"))
    external_id: Mapped[str | None] = mapped_column(String(300))
    """The provider's (or integrator's) id: a retried delivery of the same id is a no-op."""
    direction: Mapped[str] = mapped_column(String(8))
    author_type: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    """When it happened: the sender's time if plausible, else when the hub received it."""
    received_at: Mapped[datetime]
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    """Outbound only: queued → sent → delivered → read, or failed."""
    delivery_error: Mapped[str | None] = mapped_column(Text)
    delivery_error_code: Mapped[str | None] = mapped_column(String(32))
    delivery_updated_at: Mapped[datetime | None]


class JourneyNote(Base):
    """An agent's internal note on a journey: shown to agents on the timeline, never sent
    to the customer (it is not a message, so no channel, widget or reply API sees it)."""

    __tablename__ = "journey_notes"
    __table_args__ = (Index("ix_journey_notes_journey_time", "journey_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    author_agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
