"""Plain timer handlers run one after another: each needs its lease for its whole run."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.hub import Hub
from relaydesk.timer_firing import (
    HANDLER_TIMEOUT,
    LEASE_MARGIN,
    TIMER_LEASE,
    fire_plain,
    hold_lease,
    timer_round,
)
from relaydesk.timers import DueTimer, Timer, on_timer, schedule
from relaydesk.worker import Worker

SLOW = "test.slow_plain"
calls: list[str] = []
steps: dict[str, timedelta] = {}
"""How far each key's handler moves the (manual) clock: a slow handler."""
nested: list[Hub] = []
"""Set: the handler of key "b" runs a second worker's round once, mid-batch."""


@on_timer(SLOW)
async def slow_handler(hub: Hub, timer: DueTimer) -> None:
    calls.append(timer.key)
    manual = clock.get_clock()
    assert isinstance(manual, clock.ManualClock)
    manual.advance(steps.get(timer.key, timedelta(0)))
    if timer.key == "b" and nested:
        await Worker(nested.pop()).fire_timers_once()  # another worker, at that moment


async def put_all(hub: Hub, *keys: str) -> None:
    now = clock.now()

    async def work(session: AsyncSession) -> None:
        for n, key in enumerate(keys):  # due in this order, so one round runs them so
            await schedule(session, SLOW, now - timedelta(seconds=10 - n), key=key, payload={})

    await hub.db.transaction(work)


async def statuses(hub: Hub) -> dict[str, tuple[str, int]]:
    async with hub.db.read() as session:
        rows = await session.execute(select(Timer.key, Timer.status, Timer.attempts))
        return {row.key: (row.status, row.attempts) for row in rows}


async def test_a_slow_handler_does_not_let_later_timers_in_its_batch_fire_twice(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    """a and b each take 40 s of a 60 s lease. By the time c's turn comes the round's lease
    has run out, and another worker (run from inside b) took c and fired it. The first
    worker must then skip c, and b must have renewed its own lease before it started."""
    calls.clear()
    steps.update(a=timedelta(seconds=40), b=timedelta(seconds=40))
    nested.append(hub)
    await put_all(hub, "a", "b", "c")
    assert await Worker(hub).fire_timers_once() == 3
    assert Counter(calls) == {"a": 1, "b": 1, "c": 1}, calls
    assert await statuses(hub) == {"a": ("fired", 1), "b": ("fired", 1), "c": ("fired", 2)}


async def test_a_renewed_lease_covers_the_handler_and_keeps_others_off(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    calls.clear()
    steps.clear()
    await put_all(hub, "x")
    taken = await hub.db.transaction(lambda s: timer_round(s, hub, 10))
    [leased] = taken.leased
    # the worker was busy: less than a handler's run of the lease is left
    manual_clock.advance(TIMER_LEASE - HANDLER_TIMEOUT - LEASE_MARGIN + timedelta(seconds=1))
    assert await hold_lease(hub, leased)  # renewed: nobody else took it
    async with hub.db.read() as session:
        until = clock.as_utc((await session.scalars(select(Timer.locked_until))).one())  # type: ignore[arg-type]
    assert until == clock.now() + TIMER_LEASE
    manual_clock.advance(HANDLER_TIMEOUT)  # past the first lease, inside the renewed one
    assert await Worker(hub).fire_timers_once() == 0
    await fire_plain(hub, leased)
    assert calls == ["x"]
    assert await statuses(hub) == {"x": ("fired", 1)}


async def test_a_lease_taken_over_after_it_ran_out_is_not_renewed(
    hub: Hub, manual_clock: clock.ManualClock
) -> None:
    calls.clear()
    steps.clear()
    await put_all(hub, "y")
    first = await hub.db.transaction(lambda s: timer_round(s, hub, 10))
    manual_clock.advance(TIMER_LEASE + timedelta(seconds=1))
    second = await hub.db.transaction(lambda s: timer_round(s, hub, 10))  # another worker
    assert not await hold_lease(hub, first.leased[0])
    await fire_plain(hub, first.leased[0])
    assert calls == []
    await fire_plain(hub, second.leased[0])
    assert calls == ["y"]
    assert await statuses(hub) == {"y": ("fired", 2)}
