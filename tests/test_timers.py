"""Durable timers: schedule, replace, cancel, fire when due, retries, dead timers, bad input."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.helpers import timer_probe

from relaydesk import clock, timers
from relaydesk.bus import RetryLater
from relaydesk.hub import Hub
from relaydesk.settings import Settings
from relaydesk.timer_firing import MAX_ATTEMPTS, TIMER_LEASE, fire_plain, timer_round
from relaydesk.timers import DueTimer, Timer, cancel, on_timer, schedule
from relaydesk.worker import Worker

PLAIN = "test.plain"
TX = "test.tx"

plain_calls: list[tuple[str, dict[str, Any], int]] = []
failures: dict[str, int] = {}
retry_after: dict[str, float] = {}


@on_timer(PLAIN)
async def plain_handler(hub: Hub, timer: DueTimer) -> None:
    if failures.get(timer.key, 0) > 0:
        failures[timer.key] -= 1
        raise RuntimeError(f"flaky {timer.key}")
    if timer.key in retry_after:
        raise RetryLater("not yet", after=retry_after.pop(timer.key))
    plain_calls.append((timer.key, timer.payload, timer.attempts))


@on_timer(TX, in_transaction=True)
async def tx_handler(hub: Hub, timer: DueTimer, session: AsyncSession) -> None:
    """Writes a probe row, then may fail: the write must vanish with the failure."""
    await timer_probe.record(hub, timer, session)
    if failures.get(timer.key, 0) > 0:
        failures[timer.key] -= 1
        raise RuntimeError(f"flaky {timer.key}")


@pytest.fixture(autouse=True)
def reset() -> None:
    plain_calls.clear()
    failures.clear()
    retry_after.clear()


@pytest.fixture
async def probe(hub: Hub) -> AsyncIterator[None]:
    await timer_probe.create_table(hub)
    yield
    await timer_probe.drop_table(hub)


async def put(hub: Hub, kind: str, due_at: datetime, key: str, **payload: Any) -> None:
    await hub.db.transaction(lambda s: schedule(s, kind, due_at, key=key, payload=payload))


async def rows(hub: Hub) -> list[Timer]:
    async with hub.db.read() as session:
        return list((await session.scalars(select(Timer).order_by(Timer.created_at))).all())


def later(**delta: float) -> datetime:
    return clock.now() + timedelta(**delta)


async def test_fires_once_when_due_and_not_before(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    due = later(minutes=10)
    await put(hub, PLAIN, due, "a", n=1)
    worker = Worker(hub)
    assert await worker.drain() == 0
    manual_clock.advance(timedelta(minutes=10))
    assert await worker.drain() == 1
    assert plain_calls == [("a", {"n": 1}, 1)]
    [row] = await rows(hub)
    assert (row.status, row.attempts, row.fired_at, row.due_at) == ("fired", 1, clock.now(), due)
    manual_clock.advance(timedelta(days=1))
    assert await worker.drain() == 0
    assert len(plain_calls) == 1


async def test_fires_in_due_order(hub: Hub, manual_clock: clock.ManualClock) -> None:
    for n in (3, 1, 2):
        await put(hub, PLAIN, later(seconds=n), f"k{n}")
    manual_clock.advance(timedelta(seconds=5))
    await Worker(hub, batch=1).drain()
    assert [key for key, _, _ in plain_calls] == ["k1", "k2", "k3"]


async def test_same_key_replaces_the_pending_timer(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    await put(hub, PLAIN, later(minutes=10), "same", v="first")
    await put(hub, PLAIN, later(minutes=20), "same", v="second")
    [row] = await rows(hub)
    assert (row.payload, row.due_at) == ({"v": "second"}, later(minutes=20))
    manual_clock.advance(timedelta(minutes=15))
    assert await Worker(hub).drain() == 0
    manual_clock.advance(timedelta(minutes=5))
    assert await Worker(hub).drain() == 1
    assert plain_calls == [("same", {"v": "second"}, 1)]
    # after it fired, the key is free again: a new timer, the fired one stays as history
    await put(hub, PLAIN, later(minutes=1), "same", v="third")
    assert [r.status for r in await rows(hub)] == ["fired", "pending"]


async def test_cancel(hub: Hub, manual_clock: clock.ManualClock) -> None:
    await put(hub, PLAIN, later(minutes=1), "c")
    assert await hub.db.transaction(lambda s: cancel(s, "c")) is True
    assert await hub.db.transaction(lambda s: cancel(s, "c")) is False
    assert await hub.db.transaction(lambda s: cancel(s, "never-scheduled")) is False
    manual_clock.advance(timedelta(hours=1))
    assert await Worker(hub).drain() == 0
    assert plain_calls == []
    [row] = await rows(hub)
    assert row.status == "cancelled"
    await put(hub, PLAIN, later(minutes=1), "c")  # a cancelled key can be scheduled again
    manual_clock.advance(timedelta(minutes=1))
    assert await Worker(hub).drain() == 1
    assert await hub.db.transaction(lambda s: cancel(s, "c")) is False  # already fired


async def test_rolled_back_transaction_schedules_nothing(hub: Hub) -> None:
    async def work(session: AsyncSession) -> None:
        await schedule(session, PLAIN, later(seconds=1), key="x", payload={})
        raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        await hub.db.transaction(work)
    assert await rows(hub) == []


async def test_plain_failure_retries_with_backoff_then_fires(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    failures["r"] = 2
    await put(hub, PLAIN, clock.now(), "r")
    worker = Worker(hub)
    assert await worker.run_once() == 1
    [row] = await rows(hub)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "RuntimeError: flaky r")
    assert clock.now() < row.available_at <= later(seconds=1)
    assert row.due_at == clock.now()  # the wanted time is kept
    assert await worker.run_once() == 0
    for _ in range(2):
        manual_clock.advance(timedelta(seconds=5))
        await worker.run_once()
    [row] = await rows(hub)
    assert (row.status, row.attempts, row.last_error) == ("fired", 3, None)
    assert plain_calls == [("r", {}, 3)]


async def test_retry_later_waits_as_asked(hub: Hub, manual_clock: clock.ManualClock) -> None:
    retry_after["w"] = 120
    await put(hub, PLAIN, clock.now(), "w")
    await Worker(hub).drain()
    [row] = await rows(hub)
    assert row.available_at >= later(seconds=120)
    manual_clock.advance(timedelta(seconds=119))
    assert await Worker(hub).drain() == 0
    manual_clock.advance(timedelta(seconds=2))
    assert await Worker(hub).drain() == 1
    assert plain_calls == [("w", {}, 2)]


@pytest.mark.parametrize("kind", [PLAIN, TX])
async def test_dead_after_the_last_attempt(
    hub: Hub, manual_clock: clock.ManualClock, kind: str, probe: None
) -> None:
    failures["d"] = MAX_ATTEMPTS + 1
    await put(hub, kind, clock.now(), "d")
    worker = Worker(hub)
    for _ in range(MAX_ATTEMPTS):
        assert await worker.run_once() == 1
        manual_clock.advance(timedelta(hours=2))
    [row] = await rows(hub)
    assert (row.status, row.attempts, row.fired_at) == ("dead", MAX_ATTEMPTS, None)
    assert row.last_error == "RuntimeError: flaky d"
    assert await worker.drain() == 0
    assert plain_calls == [] and await timer_probe.firings(hub) == []


async def test_transactional_failure_rolls_back_its_writes_only(
    hub: Hub, manual_clock: clock.ManualClock, probe: None
) -> None:
    failures["bad"] = 1
    for key in ("good1", "bad", "good2"):
        await put(hub, TX, clock.now(), key)
    assert await Worker(hub).run_once() == 3
    assert sorted(f["key"] for f in await timer_probe.firings(hub)) == ["good1", "good2"]
    assert {r.key: r.status for r in await rows(hub)} == {
        "good1": "fired",
        "bad": "pending",
        "good2": "fired",
    }
    manual_clock.advance(timedelta(seconds=5))
    assert await Worker(hub).drain() == 1
    assert sorted(f["key"] for f in await timer_probe.firings(hub)) == ["bad", "good1", "good2"]


async def test_a_dead_workers_plain_timer_fires_again_after_the_lease(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    await put(hub, PLAIN, clock.now(), "p")
    taken = await hub.db.transaction(lambda s: timer_round(s, hub, 10))
    assert [leased.timer.key for leased in taken.leased] == ["p"]
    # that worker dies before running the handler; nobody may take it during the lease
    assert await Worker(hub).drain() == 0
    manual_clock.advance(TIMER_LEASE + timedelta(seconds=1))
    assert await Worker(hub).drain() == 1
    assert plain_calls == [("p", {}, 2)]


async def test_replaced_while_firing_keeps_the_new_timer(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    await put(hub, PLAIN, clock.now(), "r")
    taken = await hub.db.transaction(lambda s: timer_round(s, hub, 10))
    await put(hub, PLAIN, later(minutes=5), "r", v=2)  # rescheduled while the handler runs
    await fire_plain(hub, taken.leased[0])
    [row] = await rows(hub)
    assert (row.status, row.payload) == ("pending", {"v": 2})
    manual_clock.advance(timedelta(minutes=5))
    await Worker(hub).drain()
    assert [p for _, p, _ in plain_calls] == [{}, {"v": 2}]


async def test_unknown_kind_in_the_table_goes_dead(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    async def smuggle(session: AsyncSession) -> None:
        now = clock.now()
        await session.execute(
            insert(Timer).values(
                kind="gone.kind",
                key="g",
                due_at=now,
                available_at=now,
                payload={},
                status="pending",
                attempts=0,
                created_at=now,
            )
        )

    await hub.db.transaction(smuggle)
    for _ in range(MAX_ATTEMPTS):
        await Worker(hub).run_once()
        manual_clock.advance(timedelta(hours=2))
    [row] = await rows(hub)
    assert row.status == "dead"
    assert row.last_error == "no handler for timer kind 'gone.kind'"


@pytest.mark.parametrize(
    ("kind", "due", "key", "payload", "problem"),
    [
        (PLAIN, datetime(2026, 1, 1, 9), "k", {}, "timezone-aware"),
        (PLAIN, "2026-01-01T09:00Z", "k", {}, "timezone-aware"),
        (PLAIN, datetime(2026, 1, 1, tzinfo=UTC), "", {}, "key must be a non-empty"),
        (PLAIN, datetime(2026, 1, 1, tzinfo=UTC), "  ", {}, "key must be a non-empty"),
        (PLAIN, datetime(2026, 1, 1, tzinfo=UTC), "k" * 301, {}, "longer than 300"),
        (PLAIN, datetime(2026, 1, 1, tzinfo=UTC), "k", {"x": object()}, "not JSON"),
        (PLAIN, datetime(2026, 1, 1, tzinfo=UTC), "k", {"x": float("nan")}, "not JSON"),
        (PLAIN, datetime(2026, 1, 1, tzinfo=UTC), "k", ["x"], "must be a dict"),
        (PLAIN, datetime(2026, 1, 1, tzinfo=UTC), "k", {"x": "y" * 70_000}, "over 65536"),
        ("no.such.kind", datetime(2026, 1, 1, tzinfo=UTC), "k", {}, "no handler"),
        ("", datetime(2026, 1, 1, tzinfo=UTC), "k", {}, "kind must be a non-empty"),
    ],
)
async def test_bad_input_is_refused_and_nothing_written(
    hub: Hub, kind: str, due: Any, key: str, payload: Any, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        await hub.db.transaction(lambda s: schedule(s, kind, due, key=key, payload=payload))
    assert await rows(hub) == []
    with pytest.raises(ValueError, match="key must be"):
        await hub.db.transaction(lambda s: cancel(s, ""))


def test_one_handler_per_kind() -> None:
    with pytest.raises(ValueError, match="already handled"):

        @on_timer(PLAIN)
        async def another(hub: Hub, timer: DueTimer) -> None: ...

    with pytest.raises(ValueError, match="kind must be"):
        on_timer("")


def test_extra_handler_modules_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(timers.EXTRA_MODULES_ENV, "tests.helpers.timer_probe, ")
    assert timer_probe.PROBE in timers.known_kinds()
    monkeypatch.setenv(timers.EXTRA_MODULES_ENV, "tests.helpers.no_such_module")
    with pytest.raises(ModuleNotFoundError):
        timers.load_timer_handlers()


async def test_running_worker_wakes_on_schedule_and_sleeps_until_due(
    database_url: str,
) -> None:
    """Polling every 30 s, a timer due in 0.3 s still fires on time: the commit wakes the
    worker, which then sleeps until the due time instead of polling."""
    hub = Hub.from_settings(
        Settings(database_url=database_url, run_worker=False, worker_poll_interval=30)
    )
    await timer_probe.create_table(hub)
    worker = Worker(hub)
    worker.start()
    try:
        await asyncio.sleep(0.2)  # the worker is now asleep for up to 30 s
        due = later(seconds=0.3)
        await put(hub, timer_probe.PROBE, due, "soon")
        started = time.monotonic()
        while not await timer_probe.firings(hub) and time.monotonic() - started < 10:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        [firing] = await timer_probe.firings(hub)
        lateness = datetime.fromisoformat(firing["fired_at"]) - due
        assert timedelta(0) <= lateness < timedelta(seconds=0.25)
    finally:
        await worker.stop()
        await timer_probe.drop_table(hub)
        await hub.close()
