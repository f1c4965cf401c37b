"""Domain events: an append-only log plus an outbox, written in the caller's transaction.

``publish`` stores the event and one outbox row per registered listener; the worker delivers
them after commit, so a listener never sees an event whose transaction rolled back, and every
listener retries independently. Events are named constants (``MessageReceived.name``).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel
from sqlalchemy import ForeignKey, Index, String, Text, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from relaydesk import clock
from relaydesk.db import Base, new_id


class Event(Base):
    """One fact that happened; never updated or deleted (analytics are computed from it)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_journey_time", "journey_id", "occurred_at"),
        Index("ix_events_customer_time", "customer_id", "occurred_at"),
        Index("ix_events_name_time", "name", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    customer_id: Mapped[uuid.UUID | None]
    journey_id: Mapped[uuid.UUID | None]
    actor: Mapped[str] = mapped_column(String(200), default="system")
    payload: Mapped[dict[str, Any]]


class OutboxEntry(Base):
    """Work for one listener about one event; claimed by workers, retried with backoff."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "available_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    listener: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending → done, or dead after the last attempt."""
    attempts: Mapped[int] = mapped_column(default=0)
    available_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class DomainEvent(BaseModel):
    """Base for event payloads. Subclasses set ``name`` and their fields."""

    name: ClassVar[str]
    customer_id: uuid.UUID | None = None
    journey_id: uuid.UUID | None = None


@dataclass(frozen=True)
class StoredEvent:
    """What a listener receives: the event as it was logged."""

    id: uuid.UUID
    name: str
    occurred_at: datetime
    customer_id: uuid.UUID | None
    journey_id: uuid.UUID | None
    actor: str
    payload: dict[str, Any]


Handler = Callable[[Any, StoredEvent], Awaitable[None]]


DeadHandler = Callable[[Any, StoredEvent, str], Awaitable[None]]


@dataclass(frozen=True)
class Listener:
    name: str
    event_name: str
    handler: Handler
    on_dead: DeadHandler | None = None
    """Called once when the worker gives up, e.g. to mark a message failed."""


class RetryLater(Exception):
    """Raise from a listener to be retried no sooner than ``after`` seconds."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


_listeners: dict[str, list[Listener]] = {}
_LISTENER_MODULES = (
    "relaydesk.journeys.listeners",
    "relaydesk.channels.delivery",
    "relaydesk.channels.webchat.listeners",
)
_loaded = False


def on(
    event: type[DomainEvent], *, on_dead: DeadHandler | None = None
) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``event``; the handler must be idempotent."""

    def register(handler: Handler) -> Handler:
        listener = Listener(
            f"{handler.__module__}.{handler.__qualname__}", event.name, handler, on_dead
        )
        bucket = _listeners.setdefault(event.name, [])
        if all(existing.name != listener.name for existing in bucket):
            bucket.append(listener)
        return handler

    return register


def load_listeners() -> None:
    """Import every domain's listeners so ``publish`` knows who to queue work for."""
    global _loaded
    if not _loaded:
        for module in _LISTENER_MODULES:
            importlib.import_module(module)
        _loaded = True


def listeners_for(event_name: str) -> list[Listener]:
    load_listeners()
    return list(_listeners.get(event_name, ()))


def listener_by_name(name: str) -> Listener | None:
    load_listeners()
    for bucket in _listeners.values():
        for listener in bucket:
            if listener.name == name:
                return listener
    return None


async def publish(session: AsyncSession, event: DomainEvent, *, actor: str = "system") -> uuid.UUID:
    """Log ``event`` and queue it for its listeners, inside the caller's transaction."""
    now = clock.now()
    event_id = new_id()
    payload = event.model_dump(mode="json", exclude={"customer_id", "journey_id"})
    await session.execute(
        insert(Event).values(
            id=event_id,
            name=event.name,
            occurred_at=now,
            customer_id=event.customer_id,
            journey_id=event.journey_id,
            actor=actor,
            payload=payload,
        )
    )
    rows = [
        {
            "id": new_id(),
            "event_id": event_id,
            "listener": listener.name,
            "status": "pending",
            "attempts": 0,
            "available_at": now,
            "created_at": now,
        }
        for listener in listeners_for(event.name)
    ]
    if rows:
        await session.execute(insert(OutboxEntry), rows)
    return event_id
