"""Domain events: an append-only log plus an outbox, written in the caller's transaction.

``publish`` stores the event and one outbox row per registered listener; the worker delivers
them after commit, so a listener never sees an event whose transaction rolled back, and every
listener retries independently. Events are named constants (``MessageReceived.name``).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, cast

from pydantic import BaseModel
from sqlalchemy import ForeignKey, Index, String, Table, Text, insert
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column
from sqlalchemy.sql.dml import Insert

from relaydesk import clock
from relaydesk.db import PRE_EXECUTE, Base, WriteSession, new_id


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
    "relaydesk.bot.listeners",
    "relaydesk.routing.listeners",
    "relaydesk.sla.listeners",
    "relaydesk.outreach.listeners",
    "relaydesk.console.floor_listeners",
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
    """Log ``event`` and queue it for its listeners, inside the caller's transaction.

    The rows are queued on the session and written together, with one insert per table, just
    before the transaction commits, or before the session runs any statement but an insert
    into another table (so reads see them). Inside a savepoint, or on a session not made by
    ``Database.transaction``, they are written at once, so a rolled-back savepoint takes them
    along. Code reading the log through a raw ``session.connection()`` must call
    ``write_pending`` first.
    """
    now = clock.now()
    event_id = new_id()
    row = {
        "id": event_id,
        "name": event.name,
        "occurred_at": now,
        "customer_id": event.customer_id,
        "journey_id": event.journey_id,
        "actor": actor,
        "payload": event.model_dump(mode="json", exclude={"customer_id", "journey_id"}),
    }
    outbox = [
        {
            "id": new_id(),
            "event_id": event_id,
            "listener": listener.name,
            "status": "pending",
            "attempts": 0,
            "available_at": now,
            "locked_until": None,
            "last_error": None,
            "created_at": now,
        }
        for listener in listeners_for(event.name)
    ]
    sync = session.sync_session
    if not isinstance(sync, WriteSession) or sync.in_nested_transaction():
        await session.execute(_INSERT_EVENT, [row])
        if outbox:
            await session.execute(_INSERT_OUTBOX, outbox)
        return event_id
    pending: _Pending | None = sync.info.get(_PENDING)
    if pending is None:
        pending = sync.info[_PENDING] = _Pending()
        sync.info[PRE_EXECUTE] = _write_before_reading_log
    pending.events.append(row)
    pending.outbox.extend(outbox)
    return event_id


async def write_pending(session: AsyncSession) -> None:
    """Write the events queued by ``publish`` in this session now."""
    await session.run_sync(_write_pending)


_INSERT_EVENT = insert(cast(Table, Event.__table__))
_INSERT_OUTBOX = insert(cast(Table, OutboxEntry.__table__))
_PENDING = "relaydesk.pending_events"
_SPILLED = "relaydesk.pending_events_in_savepoints"
_LOG_TABLES = frozenset({"events", "outbox"})


@dataclass
class _Pending:
    events: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)


def _write_pending(session: Session) -> None:
    pending: _Pending | None = session.info.pop(_PENDING, None)
    session.info.pop(PRE_EXECUTE, None)
    if pending is None or not pending.events:
        return
    savepoint = session.get_nested_transaction()
    if savepoint is not None:
        # Published before this savepoint: if it rolls back they must be queued again.
        session.info.setdefault(_SPILLED, []).append((savepoint, pending))
    session.execute(_INSERT_EVENT, pending.events)
    if pending.outbox:
        session.execute(_INSERT_OUTBOX, pending.outbox)


def _queue_again(session: Session, pending: _Pending) -> None:
    queued: _Pending = session.info.setdefault(_PENDING, _Pending())
    queued.events[:0] = pending.events
    queued.outbox[:0] = pending.outbox
    session.info[PRE_EXECUTE] = _write_before_reading_log


def _write_before_reading_log(session: Session, statement: Any) -> None:
    """Before any statement but an insert into another table, write what is queued: cheaper
    than finding the tables a statement reads, and the hot path publishes only between
    inserts."""
    if isinstance(statement, Insert) and statement.table.name not in _LOG_TABLES:
        return
    _write_pending(session)


@sa_event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    """Queued events reach the database with the transaction that published them."""
    if _PENDING in session.info:
        _write_pending(session)
    if not session.in_nested_transaction():
        session.info.pop(_SPILLED, None)


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous: SessionTransaction) -> None:
    """A rolled-back transaction's events never happened (savepoints write theirs at once)."""
    if previous.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(PRE_EXECUTE, None)
        session.info.pop(_SPILLED, None)
        return
    spilled: list[tuple[SessionTransaction, _Pending]] = session.info.get(_SPILLED, [])
    for entry in [e for e in spilled if _within(e[0], previous)]:
        spilled.remove(entry)
        _queue_again(session, entry[1])


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False
