"""Events of routing: decisions, offers and agents' availability (analytics read these)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from relaydesk.bus import DomainEvent


class JourneyRouted(DomainEvent):
    """A routing decision was made and recorded (``routing_decisions`` holds the reasons)."""

    name: ClassVar[str] = "routing.decided"
    decision_id: uuid.UUID
    target: str
    agent_id: uuid.UUID | None = None
    reason: str
    value: float
    currency: str


class OfferMade(DomainEvent):
    name: ClassVar[str] = "routing.offer_made"
    offer_id: uuid.UUID
    agent_id: uuid.UUID
    expires_at: str | None = None


class OfferAnswered(DomainEvent):
    """``status``: accepted, declined, expired or withdrawn."""

    name: ClassVar[str] = "routing.offer_answered"
    offer_id: uuid.UUID
    agent_id: uuid.UUID
    status: str


class AgentAvailabilityChanged(DomainEvent):
    """An agent came online, left, or freed capacity: the queue may move."""

    name: ClassVar[str] = "routing.agent_availability"
    agent_id: uuid.UUID
    presence: str
    reason: str
