"""Batch scheduling and cancelling (one statement for many keys), and the scaled clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.helpers import timer_probe

from relaydesk import clock
from relaydesk.hub import Hub
from relaydesk.timers import Timer, cancel, cancel_many, schedule, schedule_many
from relaydesk.worker import Worker

PROBE = timer_probe.PROBE


async def states(hub: Hub) -> dict[str, str]:
    async with hub.db.read() as session:
        found: dict[str, str] = {}
        for key, status in await session.execute(select(Timer.key, Timer.status)):
            found[key] = status if found.get(key) != "pending" else "pending"
        return found


async def test_schedule_many_then_cancel_many_in_one_transaction_each(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    due = clock.now() + timedelta(minutes=5)
    items = [(due, f"k{n}", {"n": n}) for n in range(1200)]  # more than one cancel chunk
    await hub.db.transaction(lambda s: schedule_many(s, PROBE, items))
    await hub.db.transaction(lambda s: cancel(s, "k3"))  # already cancelled below
    keys = [f"k{n}" for n in range(0, 1200, 2)] + ["k3", "unknown", "k0"]
    cancelled = await hub.db.transaction(lambda s: cancel_many(s, keys))
    assert cancelled == {f"k{n}" for n in range(0, 1200, 2)}
    found = await states(hub)
    assert sum(1 for s in found.values() if s == "pending") == 599
    assert found["k1"] == "pending" and found["k3"] == "cancelled" and found["k0"] == "cancelled"
    assert await hub.db.transaction(lambda s: cancel_many(s, [])) == set()


async def test_schedule_many_replaces_pending_keys_and_keeps_the_last_of_a_repeated_key(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    soon = clock.now() + timedelta(minutes=1)
    await hub.db.transaction(lambda s: schedule(s, PROBE, soon, key="a", payload={"v": 1}))
    items = [(soon, "a", {"v": 2}), (soon, "b", {"v": 1}), (soon, "b", {"v": 3})]
    await hub.db.transaction(lambda s: schedule_many(s, PROBE, items))
    async with hub.db.read() as session:
        rows = (await session.execute(select(Timer.key, Timer.payload))).all()
    assert sorted((r.key, r.payload["v"]) for r in rows) == [("a", 2), ("b", 3)]


async def test_schedule_many_validates_everything_before_writing(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    good = (clock.now(), "fine", {})
    naive = (datetime(2026, 1, 1), "naive", {})
    with pytest.raises(ValueError, match="timezone-aware"):
        await hub.db.transaction(lambda s: schedule_many(s, PROBE, [good, naive]))
    with pytest.raises(ValueError, match="key must be a non-empty string"):
        await hub.db.transaction(lambda s: cancel_many(s, ["fine", " "]))
    assert await states(hub) == {}


async def test_cancel_many_does_not_touch_fired_timers(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    await timer_probe.create_table(hub)
    try:
        now = clock.now()

        async def work(session: AsyncSession) -> None:
            await schedule_many(
                session, PROBE, [(now, "due", {}), (now + timedelta(hours=1), "later", {})]
            )

        await hub.db.transaction(work)
        assert await Worker(hub).drain() == 1
        assert await hub.db.transaction(lambda s: cancel_many(s, ["due", "later"])) == {"later"}
        assert await states(hub) == {"due": "fired", "later": "cancelled"}
    finally:
        await timer_probe.drop_table(hub)


def test_scaled_clock_runs_faster_and_tells_real_waits() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    scaled = clock.ScaledClock(start, 60, wall_start=time.time() - 2)
    assert timedelta(seconds=119) < scaled.now() - start < timedelta(seconds=130)
    with clock.use_clock(scaled):
        assert clock.real_seconds(60) == 1
    assert clock.real_seconds(60) == 60  # the system clock: as is
    with pytest.raises(ValueError):
        clock.ScaledClock(start, 0)
    with pytest.raises(ValueError):
        clock.ScaledClock(datetime(2026, 3, 1), 2)
