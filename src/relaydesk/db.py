"""Database plumbing: metadata, engines, sessions and the one way to write (``transaction``).

SQLite is the embedded default and PostgreSQL the system of record at scale. On SQLite all
writers go through a single connection that opens transactions with ``BEGIN IMMEDIATE``, so
writers queue in-process instead of failing with "database is locked"; readers use a separate
pool. On PostgreSQL both share one pool and row locks (``FOR UPDATE``) order concurrent writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import uuid_utils
from sqlalchemy import JSON, DateTime, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from relaydesk.clock import as_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

T = TypeVar("T")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime passed to the database; use relaydesk.clock")
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        dict[str, int]: JSONType,
        list[str]: JSONType,
        list[dict[str, Any]]: JSONType,
    }


def new_id() -> uuid.UUID:
    """Time-ordered UUIDv7 ids: sortable by creation, safe to generate on many instances."""
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)


def normalize_database_url(url: str) -> str:
    """Accept plain ``sqlite:///path`` / ``postgresql://...`` and pick the async driver."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ValueError(f"not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False))
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(
        f"unsupported database {backend!r}: use sqlite:///path/to/file.db or "
        "postgresql://user@host/dbname"
    )


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the driver) decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@dataclass
class Database:
    """Engines and session factories for one database URL."""

    url: str
    writer: AsyncEngine
    reader: AsyncEngine
    write_sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 10) -> Database:
        async_url = normalize_database_url(url)
        if async_url.startswith("sqlite"):
            writer = create_async_engine(async_url, pool_size=1, max_overflow=0, pool_timeout=120)
            _configure_sqlite(writer, immediate=True)
            reader = create_async_engine(async_url, pool_size=pool_size, max_overflow=0)
            _configure_sqlite(reader, immediate=False)
        else:
            writer = create_async_engine(
                async_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            reader = writer
        return cls(
            url=url,
            writer=writer,
            reader=reader,
            write_sessions=async_sessionmaker(writer, expire_on_commit=False),
            read_sessions=async_sessionmaker(reader, expire_on_commit=False),
        )

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session; never commit through it."""
        async with self.read_sessions() as session:
            yield session

    async def transaction(
        self, work: Callable[[AsyncSession], Awaitable[T]], *, attempts: int = 8
    ) -> T:
        """Run ``work`` in one write transaction, committing only if it returns.

        Races between concurrent writers on PostgreSQL surface as unique violations,
        deadlocks or serialization failures; the whole unit is retried, so ``work`` must be
        a pure function of the database state (every action is).
        """
        for attempt in range(1, attempts + 1):
            try:
                async with self.write_sessions() as session, session.begin():
                    return await work(session)
            except (IntegrityError, OperationalError, DBAPIError) as exc:
                if attempt == attempts or not _is_retryable(exc):
                    raise
                await asyncio.sleep(0.005 * attempt)
        raise AssertionError("unreachable")


def _is_retryable(exc: DBAPIError) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return any(
        marker in text
        for marker in ("deadlock", "could not serialize", "database is locked", "busy")
    )
