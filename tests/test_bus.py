"""publish() queues events on the session and writes them in one go: reads in the same
transaction still see them, rollbacks (whole or to a savepoint) drop exactly what they undo."""

from __future__ import annotations

from typing import ClassVar

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from tests.conftest import scalar

from relaydesk.bus import DomainEvent, Event, publish
from relaydesk.hub import Hub


class Noted(DomainEvent):
    name: ClassVar[str] = "test.noted"
    n: int


async def stored(hub: Hub) -> list[int]:
    async with hub.db.read() as session:
        rows = await session.scalars(
            select(Event).where(Event.name == Noted.name).order_by(Event.id)
        )
        return [e.payload["n"] for e in rows]


async def test_events_queued_in_a_transaction_are_written_at_commit(hub: Hub) -> None:
    async def work(session: AsyncSession) -> None:
        for n in range(3):
            await publish(session, Noted(n=n))

    await hub.db.transaction(work)

    assert await stored(hub) == [0, 1, 2]


async def test_a_read_in_the_same_transaction_sees_queued_events(hub: Hub) -> None:
    async def work(session: AsyncSession) -> tuple[object, object]:
        await publish(session, Noted(n=1))
        orm = await session.scalar(select(func.count()).select_from(Event))
        await publish(session, Noted(n=2))
        raw = (await session.execute(text("select count(*) from events"))).scalar()
        return orm, raw

    assert await hub.db.transaction(work) == (1, 2)
    assert await stored(hub) == [1, 2]


async def test_a_failed_transaction_writes_none_of_its_events(hub: Hub) -> None:
    async def work(session: AsyncSession) -> None:
        await publish(session, Noted(n=1))
        raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        await hub.db.transaction(work)

    assert await scalar(hub, "select count(*) from events") == 0


async def test_a_rolled_back_savepoint_keeps_the_events_published_before_it(hub: Hub) -> None:
    async def work(session: AsyncSession) -> None:
        await publish(session, Noted(n=1))
        try:
            async with session.begin_nested():
                # Reading the log inside the savepoint writes event 1 there ...
                assert await session.scalar(select(func.count()).select_from(Event)) == 1
                await publish(session, Noted(n=2))
                raise RuntimeError("handler failed")
        except RuntimeError:
            pass
        # ... so the rollback must queue it again; event 2 is gone with the savepoint.
        await publish(session, Noted(n=3))

    await hub.db.transaction(work)

    assert await stored(hub) == [1, 3]


async def test_a_released_savepoint_keeps_everything(hub: Hub) -> None:
    async def work(session: AsyncSession) -> None:
        await publish(session, Noted(n=1))
        async with session.begin_nested():
            await publish(session, Noted(n=2))

    await hub.db.transaction(work)

    assert await stored(hub) == [1, 2]
