"""Durable timers: work due at a time, stored in the database, fired by the worker.

SLA warnings and breaches, proactive updates, scheduled notifications, surveys and offer
timeouts are timers. An action schedules one in its own transaction (so a rolled-back
action schedules nothing), keyed by a name the caller chooses (``"sla:first:<journey>"``):
scheduling the same key again replaces the pending timer, and ``cancel`` stops it.
``schedule_many`` and ``cancel_many`` do the same for many keys in one statement.

Handlers come in two styles (see ``on_timer``):

- plain, ``async def handler(hub, timer)``: run outside any transaction, then the timer is
  marked fired. At-least-once: if the worker dies after the handler and before the mark,
  the timer fires again when its lease runs out, so the handler must be idempotent (dedupe
  by ``timer.key``, or write through an action that is a no-op the second time).
- transactional, ``async def handler(hub, timer, session)`` registered with
  ``in_transaction=True``: run inside the transaction that marks the timer fired, so its
  database writes (including ``publish`` and ``schedule``) commit together with the mark:
  exactly once for everything the handler writes, even across crashes. It must not open
  another write transaction (``hub.db.transaction``), nor call a provider: publish an event
  and let a listener do that. It may run again after its writes were rolled back (another
  handler in the same round failed, or the worker died), so nothing outside the session.

Time comes from ``relaydesk.clock``; due times are aware datetimes, stored in UTC.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, overload

from sqlalchemy import Index, String, Table, Text, bindparam, text, update
from sqlalchemy import any_ as sa_any
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from relaydesk import clock
from relaydesk.db import Base, new_id

if TYPE_CHECKING:
    from relaydesk.hub import Hub

MAX_KIND_LENGTH = 100
MAX_KEY_LENGTH = 300
MAX_PAYLOAD_BYTES = 65_536
STATUSES = ("pending", "fired", "cancelled", "dead")

_TIMER_MODULES: tuple[str, ...] = (
    "relaydesk.routing.listeners",
    "relaydesk.sla.listeners",
    "relaydesk.outreach.listeners",
)
"""Modules whose import registers ``@on_timer`` handlers (like ``bus._LISTENER_MODULES``)."""

EXTRA_MODULES_ENV = "RELAYDESK_TIMER_MODULES"
"""Comma-separated extra handler modules (plugins, tests, benchmarks)."""


class Timer(Base):
    """One timer; ``key`` is unique among pending timers, history stays for inspection."""

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_due", "status", "available_at"),
        Index(
            "uq_timers_pending_key",
            "key",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(MAX_KIND_LENGTH))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    due_at: Mapped[datetime]
    """When the caller wants it to fire (kept as scheduled, for lateness and handlers)."""
    available_at: Mapped[datetime]
    """When a worker may next take it: ``due_at``, pushed back by retries."""
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending → fired or cancelled, or dead after the last attempt."""
    attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    """Lease of a worker running a plain handler; another may take over after it."""
    fired_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


@dataclass(frozen=True)
class DueTimer:
    """What a handler receives."""

    id: uuid.UUID
    kind: str
    key: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int
    """1 on the first try."""


PlainHandler = Callable[["Hub", DueTimer], Awaitable[None]]
TransactionalHandler = Callable[["Hub", DueTimer, AsyncSession], Awaitable[None]]


@dataclass(frozen=True)
class TimerHandler:
    kind: str
    name: str
    handler: PlainHandler | TransactionalHandler
    in_transaction: bool


_handlers: dict[str, TimerHandler] = {}
_imported: set[str] = set()


@overload
def on_timer(
    kind: str, *, in_transaction: Literal[False] = False
) -> Callable[[PlainHandler], PlainHandler]: ...


@overload
def on_timer(
    kind: str, *, in_transaction: Literal[True]
) -> Callable[[TransactionalHandler], TransactionalHandler]: ...


def on_timer(kind: str, *, in_transaction: bool = False) -> Callable[[Any], Any]:
    """Register the one handler for timers of ``kind``; list its module in _TIMER_MODULES."""
    _check_text("kind", kind, MAX_KIND_LENGTH)

    def register(handler: Any) -> Any:
        name = f"{handler.__module__}.{handler.__qualname__}"
        existing = _handlers.get(kind)
        if existing is not None and existing.name != name:
            raise ValueError(f"timer kind {kind!r} already handled by {existing.name}")
        _handlers[kind] = TimerHandler(kind, name, handler, in_transaction)
        return handler

    return register


def load_timer_handlers() -> None:
    """Import the handler modules (built-in, then those named in RELAYDESK_TIMER_MODULES)."""
    extra = os.environ.get(EXTRA_MODULES_ENV, "")
    for module in (*_TIMER_MODULES, *(m.strip() for m in extra.split(",") if m.strip())):
        if module not in _imported:
            importlib.import_module(module)
            _imported.add(module)


def handler_for(kind: str) -> TimerHandler | None:
    load_timer_handlers()
    return _handlers.get(kind)


def known_kinds() -> list[str]:
    load_timer_handlers()
    return sorted(_handlers)


class TimerWaker(Protocol):
    def timer_scheduled(self, due_at: datetime) -> None: ...


_wakers: weakref.WeakSet[Any] = weakref.WeakSet()
_PENDING_WAKE = "relaydesk.timers.earliest"


def add_waker(waker: TimerWaker) -> None:
    """Tell ``waker`` (a running worker in this process) when a commit schedules a timer."""
    _wakers.add(waker)


def remove_waker(waker: TimerWaker) -> None:
    _wakers.discard(waker)


def _after_commit(sync_session: Session) -> None:
    earliest = sync_session.info.pop(_PENDING_WAKE, None)
    if earliest is not None:
        for waker in list(_wakers):
            waker.timer_scheduled(earliest)


def _wake_after_commit(session: AsyncSession, due_at: datetime) -> None:
    sync = session.sync_session
    earliest = sync.info.get(_PENDING_WAKE)
    sync.info[_PENDING_WAKE] = due_at if earliest is None else min(earliest, due_at)
    if not sa_event.contains(sync, "after_commit", _after_commit):
        sa_event.listen(sync, "after_commit", _after_commit)  # a rolled-back one is dropped


def _check_text(field: str, value: object, limit: int) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"timer {field} must be a non-empty string")
    if len(value) > limit:
        raise ValueError(f"timer {field} is longer than {limit} characters")


def validate(kind: str, due_at: datetime, key: str, payload: dict[str, Any]) -> None:
    """Refuse what the worker could never fire, before anything is written."""
    _validate_kind(kind)
    _validate_item(due_at, key, payload)


def _validate_kind(kind: str) -> None:
    _check_text("kind", kind, MAX_KIND_LENGTH)
    if handler_for(kind) is None:
        raise ValueError(
            f"no handler for timer kind {kind!r} (known: {', '.join(known_kinds()) or 'none'});"
            " register one with @on_timer and list its module in relaydesk.timers._TIMER_MODULES"
        )


def _validate_item(due_at: datetime, key: str, payload: dict[str, Any]) -> None:
    _check_text("key", key, MAX_KEY_LENGTH)
    if not isinstance(due_at, datetime) or due_at.tzinfo is None:
        raise ValueError("timer due_at must be a timezone-aware datetime")
    if not isinstance(payload, dict):
        raise ValueError("timer payload must be a dict")
    if not payload:
        return  # {} is JSON and small (most timers carry nothing)
    try:
        encoded = json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"timer payload is not JSON: {exc}") from None
    if len(encoded.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"timer payload is over {MAX_PAYLOAD_BYTES} bytes")


async def schedule(
    session: AsyncSession,
    kind: str,
    due_at: datetime,
    *,
    key: str,
    payload: dict[str, Any],
) -> None:
    """Schedule ``kind`` at ``due_at`` in the caller's transaction; replaces a pending ``key``.

    A replaced timer gets a new id, so a worker still running the old one cannot mark the
    new one fired. A due time in the past fires at the next round.
    """
    await schedule_many(session, kind, [(due_at, key, payload)])


async def schedule_many(
    session: AsyncSession,
    kind: str,
    items: Iterable[tuple[datetime, str, dict[str, Any]]],
) -> None:
    """``schedule`` for many ``(due_at, key, payload)`` at once, in one statement.

    Everything is validated before anything is written; a key given twice keeps the last.
    """
    values: dict[str, dict[str, Any]] = {}
    now = clock.now()
    _validate_kind(kind)  # once: the same for every item
    for due_at, key, payload in items:
        _validate_item(due_at, key, payload)
        due = clock.as_utc(due_at)
        values.pop(key, None)  # one row per key in a statement (ON CONFLICT needs it)
        values[key] = {
            "id": new_id(),
            "kind": kind,
            "key": key,
            "due_at": due,
            "available_at": due,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "locked_until": None,
            "fired_at": None,
            "last_error": None,
            "created_at": now,
        }
    if not values:
        return
    await session.execute(_upsert(session.get_bind().dialect.name), list(values.values()))
    _wake_after_commit(session, min(row["due_at"] for row in values.values()))


@functools.cache
def _upsert(dialect: str) -> Any:
    """The statement is built once per dialect; values come as parameters. On the table, not
    the mapped class: the ORM's bulk path costs more than the rows' own work here."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(_TABLE)
    replaced = (
        "id",
        "kind",
        "due_at",
        "available_at",
        "payload",
        "attempts",
        "locked_until",
        "last_error",
        "created_at",
    )
    return statement.on_conflict_do_update(
        index_elements=[_TABLE.c.key],
        index_where=text("status = 'pending'"),  # a literal, so PostgreSQL infers the index
        set_={name: statement.excluded[name] for name in replaced},
    )


_TABLE = cast(Table, Timer.__table__)
PENDING = text("timers.status = 'pending'")
"""A literal, not a bound parameter: a prepared statement's generic plan on PostgreSQL can
then use the partial index ``uq_timers_pending_key`` (with ``status = $2`` it scans)."""
CANCEL_CHUNK = 500
"""Keys per statement (SQLite's bound-parameter limit; plans stay cacheable)."""


async def cancel(session: AsyncSession, key: str) -> bool:
    """Cancel the pending timer ``key``; False when there is none (fired, cancelled, unknown).

    On PostgreSQL a timer being fired by a transactional handler is locked: ``cancel``
    waits for that transaction and then returns False, because the timer has fired.
    """
    return key in await cancel_many(session, [key])


async def cancel_many(session: AsyncSession, keys: Iterable[str]) -> set[str]:
    """Cancel the pending timers among ``keys`` in one statement (per 500 keys).

    Returns the keys that were pending and are now cancelled; the others had fired, were
    cancelled already or never existed. Locking as for ``cancel``.
    """
    wanted = list(dict.fromkeys(keys))
    for key in wanted:
        _check_text("key", key, MAX_KEY_LENGTH)
    statement = _cancel_statement(session.get_bind().dialect.name)
    cancelled: set[str] = set()
    for first in range(0, len(wanted), CANCEL_CHUNK):
        result = await session.execute(statement, {"keys": wanted[first : first + CANCEL_CHUNK]})
        cancelled.update(result.scalars())
    return cancelled


@functools.cache
def _cancel_statement(dialect: str) -> Any:
    """Built once per dialect, on the table (Core): ``= ANY(:keys)`` on PostgreSQL (one plan
    for any number of keys), an expanding ``IN`` on SQLite."""
    keys = (
        bindparam("keys", type_=ARRAY(String))
        if dialect == "postgresql"
        else bindparam("keys", expanding=True)
    )
    match = _TABLE.c.key == sa_any(keys) if dialect == "postgresql" else _TABLE.c.key.in_(keys)
    return (
        update(_TABLE)
        .where(match, PENDING)
        .values(status="cancelled", locked_until=None)
        .returning(_TABLE.c.key)
    )
