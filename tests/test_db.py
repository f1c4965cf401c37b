"""Database.transaction: concurrent units on SQLite share commits, yet each one commits or
fails on its own; the SQLite writer never blocks the event loop on another process's lock."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.conftest import scalar

from relaydesk import clock
from relaydesk.agents.models import ApiToken
from relaydesk.db import new_id
from relaydesk.hub import Hub


async def insert_token(session: AsyncSession, name: str) -> str:
    await session.execute(
        insert(ApiToken).values(id=new_id(), name=name, token_hash=name, created_at=clock.now())
    )
    return name


@pytest.fixture
def commits(hub: Hub) -> Any:
    count = [0]

    def on_commit(_conn: Any) -> None:
        count[0] += 1

    event.listen(hub.db.writer.sync_engine, "commit", on_commit)
    yield count
    event.remove(hub.db.writer.sync_engine, "commit", on_commit)


async def test_a_failing_unit_rolls_back_alone(hub: Hub, commits: list[int]) -> None:
    async def failing(session: AsyncSession) -> str:
        await insert_token(session, "bad")
        raise ValueError("this unit fails")

    def ok(n: int) -> Any:
        return hub.db.transaction(lambda s: insert_token(s, f"ok{n}"))

    results = await asyncio.gather(
        *(ok(n) for n in range(5)),
        hub.db.transaction(failing),
        *(ok(n) for n in range(5, 10)),
        return_exceptions=True,
    )

    assert [r for r in results if isinstance(r, Exception)] == [results[5]]
    assert isinstance(results[5], ValueError)
    assert sorted(r for r in results if isinstance(r, str)) == sorted(f"ok{n}" for n in range(10))
    assert await scalar(hub, "select count(*) from api_tokens where name = 'bad'") == 0
    assert await scalar(hub, "select count(*) from api_tokens where name like 'ok%'") == 10
    if hub.db.is_sqlite:
        assert commits[0] < 11, "concurrent units on SQLite should have shared commits"


async def test_a_failed_statement_in_one_unit_leaves_the_others_intact(hub: Hub) -> None:
    await hub.db.transaction(lambda s: insert_token(s, "taken"))

    results = await asyncio.gather(
        hub.db.transaction(lambda s: insert_token(s, "first")),
        hub.db.transaction(lambda s: insert_token(s, "taken"), attempts=1),
        hub.db.transaction(lambda s: insert_token(s, "last")),
        return_exceptions=True,
    )

    assert results[0] == "first" and results[2] == "last"
    assert isinstance(results[1], Exception)
    async with hub.db.read() as session:
        names = (await session.scalars(select(ApiToken.name).order_by(ApiToken.name))).all()
    assert list(names) == ["first", "last", "taken"]


async def test_a_lone_unit_that_fails_leaves_nothing_and_the_next_ones_commit(hub: Hub) -> None:
    """The first unit of a batch runs without a savepoint when nothing waits behind it; when
    it fails, its writes roll back, and units queued while it ran get a transaction of their
    own."""
    started = asyncio.Event()

    async def fail_after_others_queued(session: AsyncSession) -> str:
        await insert_token(session, "lone")
        started.set()
        await asyncio.sleep(0.05)
        raise ValueError("the lone unit fails")

    lone = asyncio.ensure_future(hub.db.transaction(fail_after_others_queued, attempts=1))
    await started.wait()
    queued = [hub.db.transaction(lambda s, n=n: insert_token(s, f"next{n}")) for n in range(3)]

    assert sorted(await asyncio.gather(*queued)) == ["next0", "next1", "next2"]
    with pytest.raises(ValueError, match="the lone unit fails"):
        await lone
    assert await scalar(hub, "select count(*) from api_tokens where name = 'lone'") == 0
    assert await hub.db.transaction(lambda s: insert_token(s, "after")) == "after"
    assert await scalar(hub, "select count(*) from api_tokens") == 4


async def test_a_cancelled_caller_whose_unit_fails_does_not_sink_the_others(hub: Hub) -> None:
    """The unit runs on in the writer after its caller is cancelled; when it then fails,
    the units around it still commit and get their own results."""
    started = asyncio.Event()

    async def slow_then_fail(session: AsyncSession) -> str:
        await insert_token(session, "doomed")
        started.set()
        await asyncio.sleep(0.05)
        raise ValueError("fails after its caller left")

    doomed = asyncio.ensure_future(hub.db.transaction(slow_then_fail))
    before = asyncio.ensure_future(hub.db.transaction(lambda s: insert_token(s, "before")))
    await started.wait()
    after = asyncio.ensure_future(hub.db.transaction(lambda s: insert_token(s, "after")))
    doomed.cancel()

    assert await before == "before"
    assert await after == "after"
    with pytest.raises((asyncio.CancelledError, ValueError)):
        await doomed
    assert await scalar(hub, "select count(*) from api_tokens where name = 'doomed'") == 0
    assert (
        await scalar(hub, "select count(*) from api_tokens where name in ('before', 'after')") == 2
    )


async def test_a_transaction_inside_a_transaction_fails_fast_on_sqlite(hub: Hub) -> None:
    if not hub.db.is_sqlite:
        pytest.skip("PostgreSQL gives the inner transaction its own connection")

    async def outer(session: AsyncSession) -> None:
        await hub.db.transaction(lambda s: insert_token(s, "inner"))

    with pytest.raises(RuntimeError, match="inside a write transaction"):
        await asyncio.wait_for(hub.db.transaction(outer), 10)


async def test_the_loop_keeps_running_while_another_process_holds_the_write_lock(
    hub: Hub,
) -> None:
    if not hub.db.is_sqlite:
        pytest.skip("SQLite's write lock")
    await hub.db.transaction(lambda s: insert_token(s, "first"))  # the file is in WAL mode now
    path = hub.db.url.split(":///", 1)[1]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        write = asyncio.create_task(hub.db.transaction(lambda s: insert_token(s, "waited")))
        started = time.monotonic()
        await asyncio.sleep(0.3)
        assert not write.done()
        other.execute("COMMIT")
        assert await asyncio.wait_for(write, 10) == "waited"
    finally:
        ticking.cancel()
        other.close()
    assert ticks >= 0.3 / 0.01 / 3, (
        f"the loop stalled: {ticks} ticks in {time.monotonic() - started:.2f} s"
    )
    assert await scalar(hub, "select count(*) from api_tokens where name = 'waited'") == 1


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db?sslmode=require", "postgresql+asyncpg://u@h/db?ssl=require"),
        ("postgres://u@h/db?connect_timeout=5", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u@h/db?application_name=desk", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///var/r.db", "sqlite+aiosqlite:///var/r.db"),
        (
            "postgresql://u@/db?host=/var/run/postgresql",
            "postgresql+asyncpg://u@/db?host=%2Fvar%2Frun%2Fpostgresql",
        ),
        (
            "postgresql://u@h/db?prepared_statement_cache_size=0&connect_timeout=0",
            "postgresql+asyncpg://u@h/db?prepared_statement_cache_size=0",
        ),
    ],
)
def test_database_urls_people_copy_are_translated_for_the_driver(given: str, expected: str) -> None:
    from relaydesk.db import normalize_database_url

    assert normalize_database_url(given) == expected


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("sqlite://", "in-memory SQLite"),
        ("sqlite:///:memory:", "in-memory SQLite"),
        ("postgresql://u@h/db?sslmode=sometimes", "sslmode must be one of"),
        ("postgresql://u@h/db?gssencmode=prefer", "unsupported parameter 'gssencmode'"),
        ("postgresql://u@h/db?connect_timeout=soon", "connect_timeout must be a number"),
        ("mysql://u@h/db", "unsupported database 'mysql'"),
    ],
)
def test_database_urls_that_cannot_work_are_refused_with_the_reason(
    given: str, problem: str
) -> None:
    from relaydesk.db import normalize_database_url

    with pytest.raises(ValueError, match=problem):
        normalize_database_url(given)


async def test_libpq_parameters_connect_to_postgresql(postgres_template: str) -> None:
    from sqlalchemy import text

    from relaydesk.db import Database

    url = postgres_template + "?sslmode=disable&application_name=relaydesk-test&connect_timeout=5"
    db = Database.connect(url)
    try:
        async with db.read() as session:
            name = await session.scalar(text("select current_setting('application_name')"))
        assert name == "relaydesk-test"
    finally:
        await db.dispose()
