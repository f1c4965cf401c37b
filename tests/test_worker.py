"""The outbox worker: delivery after commit, retries with backoff, dead letters, leases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from relaydesk import bus, clock, timers
from relaydesk.bus import DomainEvent, OutboxEntry, StoredEvent, publish
from relaydesk.hub import Hub
from relaydesk.worker import LEASE, MAX_ATTEMPTS, Worker, backoff, claim


class Pinged(DomainEvent):
    name: ClassVar[str] = "test.pinged"
    n: int


calls: list[tuple[str, int]] = []
failures: dict[int, int] = {}


@bus.on(Pinged)
async def record_ping(hub: Hub, event: StoredEvent) -> None:
    n = event.payload["n"]
    if failures.get(n, 0) > 0:
        failures[n] -= 1
        raise RuntimeError(f"flaky {n}")
    calls.append(("record", n))


@pytest.fixture(autouse=True)
def reset() -> None:
    calls.clear()
    failures.clear()


async def ping(hub: Hub, n: int) -> None:
    async def work(session: Any) -> None:
        await publish(session, Pinged(n=n))

    await hub.db.transaction(work)


async def outbox(hub: Hub) -> list[OutboxEntry]:
    async with hub.db.read() as session:
        return list((await session.scalars(select(OutboxEntry))).all())


async def test_delivers_each_event_once_in_order(hub: Hub) -> None:
    for n in range(5):
        await ping(hub, n)
    assert await Worker(hub).drain() == 5
    assert calls == [("record", n) for n in range(5)]
    assert {e.status for e in await outbox(hub)} == {"done"}
    assert await Worker(hub).drain() == 0


async def test_rolled_back_transaction_publishes_nothing(hub: Hub) -> None:
    async def work(session: Any) -> None:
        await publish(session, Pinged(n=1))
        raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        await hub.db.transaction(work)
    assert await outbox(hub) == []


async def test_failure_retries_with_backoff_then_succeeds(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    failures[7] = 2
    await ping(hub, 7)
    worker = Worker(hub)
    assert await worker.run_once() == 1
    [entry] = await outbox(hub)
    assert entry.status == "pending"
    assert entry.attempts == 1
    assert entry.last_error == "RuntimeError: flaky 7"
    assert entry.available_at > clock.now()
    assert await worker.run_once() == 0  # not due yet
    manual_clock.advance(timedelta(hours=1))
    await worker.run_once()
    manual_clock.advance(timedelta(hours=1))
    await worker.run_once()
    [entry] = await outbox(hub)
    assert (entry.status, entry.attempts, entry.last_error) == ("done", 3, None)
    assert calls == [("record", 7)]


async def test_dead_letter_after_the_last_attempt(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    failures[9] = MAX_ATTEMPTS + 5
    await ping(hub, 9)
    worker = Worker(hub)
    for _ in range(MAX_ATTEMPTS):
        await worker.run_once()
        manual_clock.advance(timedelta(hours=2))
    [entry] = await outbox(hub)
    assert entry.status == "dead"
    assert entry.attempts == MAX_ATTEMPTS
    assert await worker.run_once() == 0


async def test_a_crashed_workers_claim_is_taken_over_after_the_lease(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    await ping(hub, 3)
    claimed = await hub.db.transaction(lambda s: claim(s, limit=10, worker_id="dead"))
    assert len(claimed) == 1
    # the claiming worker dies here; nobody else may take it while the lease runs
    assert await Worker(hub).run_once() == 0
    manual_clock.advance(LEASE + timedelta(seconds=1))
    assert await Worker(hub).run_once() == 1
    assert calls == [("record", 3)]


async def test_a_round_marks_its_successes_done_together_and_records_a_failure(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    failures[2] = 1
    for n in range(4):
        await ping(hub, n)
    assert await Worker(hub).run_once() == 4
    entries = {e.event_id: e for e in await outbox(hub)}
    async with hub.db.read() as session:
        numbers = {e.id: e.payload["n"] for e in (await session.scalars(select(bus.Event))).all()}
    by_n = {numbers[event_id]: entry for event_id, entry in entries.items()}
    assert {n: by_n[n].status for n in range(4)} == {0: "done", 1: "done", 2: "pending", 3: "done"}
    assert by_n[2].last_error == "RuntimeError: flaky 2"
    assert all(by_n[n].locked_until is None for n in range(4))
    assert calls == [("record", 0), ("record", 1), ("record", 3)]
    manual_clock.advance(timedelta(hours=1))
    assert await Worker(hub).run_once() == 1
    assert calls[-1] == ("record", 2)
    assert {e.status for e in await outbox(hub)} == {"done"}


def test_backoff_grows_and_is_capped() -> None:
    assert timedelta(seconds=0.5) <= backoff(1) <= timedelta(seconds=1)
    assert timedelta(seconds=4) <= backoff(4) <= timedelta(seconds=8)
    assert backoff(40) <= timedelta(hours=1)


async def test_running_worker_wakes_on_new_work_and_stops(hub: Hub) -> None:
    import asyncio

    worker = Worker(hub)
    worker.start()
    await ping(hub, 11)
    hub.wake_worker()
    for _ in range(200):
        if calls:
            break
        await asyncio.sleep(0.01)
    await worker.stop()
    assert calls == [("record", 11)]


QUIET_KIND = "test.worker.quiet"


@timers.on_timer(QUIET_KIND)
async def quiet_timer(hub: Hub, timer: timers.DueTimer) -> None:
    calls.append(("quiet", 0))


async def schedule_quiet(hub: Hub, due_in: timedelta, key: str) -> None:
    async def work(session: Any) -> None:
        await timers.schedule(session, QUIET_KIND, clock.now() + due_in, key=key, payload={})

    await hub.db.transaction(work)


async def test_quiet_only_after_a_round_with_nothing_due_and_nothing_due_soon(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    worker = Worker(hub)
    assert not worker.quiet_for(15)  # no round yet: what is due is unknown
    await ping(hub, 1)
    assert await worker.run_once() == 1
    assert not worker.quiet_for(15)  # that round had work
    assert await worker.run_once() == 0
    assert worker.quiet_for(15)  # nothing pending at all
    await schedule_quiet(hub, timedelta(seconds=10), "soon")
    assert await worker.run_once() == 0
    assert not worker.quiet_for(15)  # due in 10 s
    assert worker.quiet_for(5)
    manual_clock.advance(timedelta(seconds=10))
    assert await worker.run_once() == 1
    assert calls == [("record", 1), ("quiet", 0)]
    assert not worker.quiet_for(0)
