"""Database plumbing: metadata, engines, sessions and the one way to write (``transaction``).

SQLite is the embedded default and PostgreSQL the system of record at scale. On SQLite all
writers go through a single connection that opens transactions with ``BEGIN IMMEDIATE``, so
writers queue in-process instead of failing with "database is locked"; that connection is
driven from the event loop's thread (``SQLiteOnLoopDialect``) and units of work queued at the
same time share a commit (``GroupCommit``); readers use a separate aiosqlite pool. On
PostgreSQL both share one pool and row locks (``FOR UPDATE``) order concurrent writers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import uuid_utils
from sqlalchemy import JSON, DateTime, MetaData, event, pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_

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


# libpq URL parameters operators write, and what asyncpg calls them.
_LIBPQ_TO_ASYNCPG = {"sslmode": "ssl", "connect_timeout": "timeout"}
_ASYNCPG_QUERY = {
    "ssl",
    "target_session_attrs",
    # handled by SQLAlchemy's asyncpg dialect itself
    "host",
    "port",
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
}
_KEYWORD_ONLY = {"application_name", "connect_timeout", "timeout", "command_timeout"}
"""Parameters asyncpg takes only as typed keywords: passed by ``connect_args``."""
_SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full", "true", "false"}


def normalize_database_url(url: str) -> str:
    """Accept plain ``sqlite:///path`` / ``postgresql://...`` and pick the async driver.

    PostgreSQL URLs may carry the libpq parameters people copy from their provider
    (``sslmode``, ``connect_timeout``, ``application_name``, ...): they are translated for
    asyncpg (``application_name`` goes to the server settings, see ``connect_args``).
    """
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ValueError(f"not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:") or "mode=memory" in str(parsed):
            raise ValueError(
                "an in-memory SQLite database cannot be shared by the hub's connections and "
                "processes: give a file, e.g. sqlite:///var/relaydesk.db"
            )
        return str(parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False))
    if backend in ("postgresql", "postgres"):
        translated: dict[str, str | tuple[str, ...]] = {}
        for key, value in parsed.query.items():
            if key in _KEYWORD_ONLY:
                if key != "application_name" and not _is_seconds(value):
                    raise ValueError(f"{key} must be a number of seconds, not {value!r}")
                continue
            name = _LIBPQ_TO_ASYNCPG.get(key, key)
            if name not in _ASYNCPG_QUERY:
                raise ValueError(
                    f"unsupported parameter {key!r} in the database URL (supported: sslmode, "
                    "connect_timeout, application_name, target_session_attrs, command_timeout, "
                    "host, port, prepared_statement_cache_size)"
                )
            if name == "ssl" and not (isinstance(value, str) and value in _SSL_MODES):
                raise ValueError(f"sslmode must be one of {', '.join(sorted(_SSL_MODES))}")
            translated[name] = value
        async_url = parsed.set(drivername="postgresql+asyncpg", query=translated)
        return async_url.render_as_string(hide_password=False)
    raise ValueError(
        f"unsupported database {backend!r}: use sqlite:///path/to/file.db or "
        "postgresql://user@host/dbname"
    )


def _is_seconds(value: object) -> bool:
    try:
        return float(str(value)) >= 0
    except ValueError:
        return False


def connect_args(url: str) -> dict[str, Any]:
    """Driver arguments a URL carries that asyncpg takes only as typed keywords."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        return {}
    query = parsed.query
    args: dict[str, Any] = {}
    if name := query.get("application_name"):
        args["server_settings"] = {"application_name": str(name)}
    seconds = query.get("connect_timeout") or query.get("timeout")
    if seconds is not None and float(str(seconds)) > 0:  # libpq: 0 means wait for ever
        args["timeout"] = float(str(seconds))
    if seconds := query.get("command_timeout"):
        args["command_timeout"] = float(str(seconds))
    return args


class SQLiteOnLoopDialect(SQLiteDialect_pysqlite):
    """The standard ``sqlite3`` driver, called directly on the event loop's thread.

    aiosqlite sends every statement to its own thread and the result back through the loop:
    a queue put, a thread wake-up and a callback per statement, which cost more CPU than
    SQLite itself (a write transaction is ~10 statements, each taking tens of microseconds in
    SQLite). The writer uses this dialect instead: statements run inline, so a transaction
    holds the loop for its (short) duration and nothing else. The one statement that can wait
    on another process, ``BEGIN IMMEDIATE``, never blocks the loop (``_begin_without_blocking``).
    Reads keep aiosqlite, as a long report must not stall the loop.
    """

    driver = "relaydesk_loop"
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool

    def do_commit(self, dbapi_connection: Any) -> None:
        """Commit on a helper thread: the write (and a WAL checkpoint's fsync every ~1,000
        pages) can take tens of milliseconds on a busy disk, which the loop must not wait out."""
        driver = dbapi_connection.driver_connection
        await_(asyncio.get_running_loop().run_in_executor(_COMMITTER, driver.commit))


registry.register("sqlite.relaydesk_loop", __name__, "SQLiteOnLoopDialect")
_COMMITTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relaydesk-sqlite-commit")


class _LoopCursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """SQLAlchemy's asyncio layer calls this after a buffered result; nothing to do."""


class _LoopConnection(sqlite3.Connection):
    """A ``sqlite3`` connection whose cursors satisfy SQLAlchemy's asyncio layer."""

    def cursor(self, factory: Any = _LoopCursor) -> Any:
        return super().cursor(factory)


BUSY_TIMEOUT = 30.0
"""Seconds a write waits for another process's write lock before failing."""


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool, on_loop: bool = False) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the driver) decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Switching needs a lock another process's write may hold; once WAL, it stays WAL.
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # On the loop's thread SQLite must never sleep on a lock itself.
        cursor.execute(f"PRAGMA busy_timeout={0 if on_loop else int(BUSY_TIMEOUT * 1000)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if on_loop:
            _begin_without_blocking(conn.connection.driver_connection)
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _begin_without_blocking(driver: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``; while another process holds the write lock, sleep on the loop."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    delay = 0.001
    while True:
        try:
            driver.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() >= deadline:
                raise
        await_(asyncio.sleep(delay))
        delay = min(delay * 2, 0.05)


PRE_EXECUTE = "relaydesk.pre_execute"
"""``session.info`` key of a hook run before each statement of a write session (``bus``)."""


class WriteSession(Session):
    """The session class of write transactions: runs the ``PRE_EXECUTE`` hook, if set."""

    def _execute_internal(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        hook = self.info.get(PRE_EXECUTE)
        if hook is not None:
            hook(self, statement)
        return super()._execute_internal(statement, *args, **kwargs)


@dataclass
class _Unit:
    work: Callable[[AsyncSession], Awaitable[Any]]
    done: asyncio.Future[Any]


_RUNNING_BATCH: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "relaydesk_running_batch", default=None
)


class GroupCommit:
    """SQLite's single writer, with commits shared between units queued at the same time.

    A writer task takes the queued units of work and runs them back to back in one
    ``BEGIN IMMEDIATE … COMMIT``, each in its own session and ``SAVEPOINT`` (so a unit that
    fails rolls back alone and its caller gets the error; the first unit needs none when
    nothing is queued behind it as it starts); every caller gets its result only
    after the shared commit. Under load this spreads the commit (and the WAL write behind
    it) over up to ``MAX_UNITS`` units; a lone unit is committed at once.
    """

    MAX_UNITS = 16
    MAX_BATCH_SECONDS = 0.02

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.queue: collections.deque[_Unit] = collections.deque()
        self.task: asyncio.Task[None] | None = None

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        if _RUNNING_BATCH.get() is not None and _RUNNING_BATCH.get() is self.task:
            raise RuntimeError("Database.transaction called inside a write transaction")
        loop = asyncio.get_running_loop()
        unit = _Unit(work, loop.create_future())
        self.queue.append(unit)
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._drain())
        result: T = await unit.done
        return result

    async def _drain(self) -> None:
        _RUNNING_BATCH.set(self.task)
        while self.queue:
            try:
                await self._batch()
            except BaseException as exc:  # the connection failed: fail what is queued
                while self.queue:
                    unit = self.queue.popleft()
                    if not unit.done.done():
                        unit.done.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise

    async def _batch(self) -> None:
        finished: list[tuple[_Unit, Any]] = []
        async with self.engine.connect() as conn:
            await conn.begin()
            started = time.monotonic()
            try:
                while (
                    self.queue
                    and len(finished) < self.MAX_UNITS
                    and time.monotonic() - started < self.MAX_BATCH_SECONDS
                ):
                    unit = self.queue.popleft()
                    if unit.done.done():  # the caller went away before its turn
                        continue
                    # The first unit with nothing queued behind it needs no savepoint (two
                    # statements of its own): if it fails, the transaction holds only it.
                    alone = not finished and not self.queue
                    session = AsyncSession(
                        bind=conn,
                        join_transaction_mode="rollback_only" if alone else "create_savepoint",
                        expire_on_commit=False,
                        sync_session_class=WriteSession,
                    )
                    try:
                        async with session.begin():
                            result = await unit.work(session)
                    except BaseException as exc:
                        if not unit.done.done():  # its caller may have been cancelled
                            unit.done.set_exception(exc)
                        if alone and isinstance(exc, Exception):
                            if conn.in_transaction():
                                await conn.rollback()
                            return  # nothing else was in this transaction
                        if not isinstance(exc, Exception) or not _in_transaction(conn):
                            raise  # SQLite gave up the whole transaction (or we are stopped)
                    else:
                        finished.append((unit, result))
                    finally:
                        await session.close()
                await conn.commit()
            except BaseException as exc:
                # Units that succeeded did nothing wrong: they get a retryable error of
                # their own, not the exception of the unit (or commit) that sank the batch.
                for unit, _ in finished:
                    if not unit.done.done():
                        unit.done.set_exception(
                            BatchAborted(type(exc).__name__) if isinstance(exc, Exception) else exc
                        )
                raise
        for unit, result in finished:
            if not unit.done.done():
                unit.done.set_result(result)


class BatchAborted(Exception):
    """A unit's shared transaction was rolled back by another unit or by the commit; the
    unit itself succeeded, so ``Database.transaction`` runs it again."""


def _in_transaction(conn: AsyncConnection) -> bool:
    driver = conn.sync_connection.connection.driver_connection if conn.sync_connection else None
    return bool(getattr(driver, "in_transaction", False))


@dataclass
class Database:
    """Engines and session factories for one database URL."""

    url: str
    writer: AsyncEngine
    reader: AsyncEngine
    write_sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    group: GroupCommit | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 10) -> Database:
        async_url = normalize_database_url(url)
        if async_url.startswith("sqlite"):
            loop_url = make_url(async_url).set(drivername="sqlite+relaydesk_loop")
            writer = create_async_engine(
                loop_url,
                pool_size=1,
                max_overflow=0,
                pool_timeout=120,
                hide_parameters=True,
                connect_args={"check_same_thread": False, "factory": _LoopConnection},
            )
            _configure_sqlite(writer, immediate=True, on_loop=True)
            reader = create_async_engine(
                async_url, pool_size=pool_size, max_overflow=0, hide_parameters=True
            )
            _configure_sqlite(reader, immediate=False)
        else:
            writer = create_async_engine(
                async_url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                hide_parameters=True,  # statement parameters hold personal data: never log them
                connect_args=connect_args(url),
            )
            reader = writer
        return cls(
            url=url,
            writer=writer,
            reader=reader,
            write_sessions=async_sessionmaker(
                writer, expire_on_commit=False, sync_session_class=WriteSession
            ),
            read_sessions=async_sessionmaker(reader, expire_on_commit=False),
            group=GroupCommit(writer) if async_url.startswith("sqlite") else None,
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

        On SQLite, units queued at the same time share one commit (``GroupCommit``).
        Races between concurrent writers on PostgreSQL surface as unique violations,
        deadlocks or serialization failures; the whole unit is retried, so ``work`` must be
        a pure function of the database state (every action is).
        """
        for attempt in range(1, attempts + 1):
            try:
                if self.group is not None:
                    return await self.group.run(work)
                async with self.write_sessions() as session, session.begin():
                    return await work(session)
            except BatchAborted:
                if attempt == attempts:
                    raise
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
