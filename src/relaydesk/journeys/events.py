"""Events of the journeys domain; analytics (containment, channel switching, contacts per
resolution) are computed from these."""

from __future__ import annotations

import uuid
from typing import ClassVar

from relaydesk.bus import DomainEvent


class MessageReceived(DomainEvent):
    name: ClassVar[str] = "message.received"
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    channel: str


class JourneyOpened(DomainEvent):
    name: ClassVar[str] = "journey.opened"
    channel: str


class JourneyReopened(DomainEvent):
    name: ClassVar[str] = "journey.reopened"
    channel: str


class JourneyResolved(DomainEvent):
    name: ClassVar[str] = "journey.resolved"
    outcome: str


class JourneyWaiting(DomainEvent):
    """The journey waits on the customer (their next message opens it again)."""

    name: ClassVar[str] = "journey.waiting"


class ConversationOpened(DomainEvent):
    name: ClassVar[str] = "conversation.opened"
    conversation_id: uuid.UUID
    channel: str


class ChannelSwitched(DomainEvent):
    """The customer continued the same journey on another channel."""

    name: ClassVar[str] = "journey.channel_switched"
    from_channel: str
    to_channel: str


class MessageQueued(DomainEvent):
    """An outbound message waits for delivery (channels/delivery.py sends it)."""

    name: ClassVar[str] = "message.queued"
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    channel: str


class MessageDeliveryChanged(DomainEvent):
    name: ClassVar[str] = "message.delivery_changed"
    message_id: uuid.UUID
    status: str
    error_code: str | None = None


class OutboundRefused(DomainEvent):
    """A message a channel asked for (e.g. an IVR link) broke the target channel's rules."""

    name: ClassVar[str] = "message.outbound_refused"
    channel: str
    code: str
    reason: str


class JourneysCombined(DomainEvent):
    """Two active journeys of one person (found after a customer merge) became one."""

    name: ClassVar[str] = "journey.combined"
    combined_journey_id: uuid.UUID


class OwnerChanged(DomainEvent):
    """The journey changed hands (bot, routing queue, agent); ``reason`` says why.

    Listeners key on ``to_owner``: the bot answers journeys handed to it, routing assigns
    journeys handed to the queue, consoles show an agent their new journey.
    """

    name: ClassVar[str] = "journey.owner_changed"
    from_owner: str
    to_owner: str
    agent_id: uuid.UUID | None = None
    previous_agent_id: uuid.UUID | None = None
    reason: str


class JourneyNoteAdded(DomainEvent):
    """An agent wrote an internal note (the payload names it; the text stays in its table)."""

    name: ClassVar[str] = "journey.note_added"
    note_id: uuid.UUID
