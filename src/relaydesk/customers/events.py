"""Events of the customers domain."""

from __future__ import annotations

import uuid
from typing import ClassVar

from relaydesk.bus import DomainEvent


class CustomerCreated(DomainEvent):
    name: ClassVar[str] = "customer.created"
    channel: str | None = None


class IdentityLinked(DomainEvent):
    name: ClassVar[str] = "identity.linked"
    kind: str
    assurance: str
    channel: str | None = None


class MergeSuggested(DomainEvent):
    name: ClassVar[str] = "customer.merge_suggested"
    suggestion_id: uuid.UUID
    other_customer_id: uuid.UUID
    kind: str
    reason: str


class CustomersMerged(DomainEvent):
    name: ClassVar[str] = "customer.merged"
    merged_id: uuid.UUID
    reason: str
    moved: dict[str, int]


class CustomerUpdated(DomainEvent):
    name: ClassVar[str] = "customer.updated"
    fields: list[str]


class OrderRecorded(DomainEvent):
    name: ClassVar[str] = "order.recorded"
    order_id: uuid.UUID
    created: bool
