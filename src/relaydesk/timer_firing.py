"""How the worker takes due timers and fires them (see ``relaydesk.timers``).

Each round takes up to ``limit`` due timers in one transaction (``FOR UPDATE SKIP LOCKED``
on PostgreSQL; on SQLite the single writer serializes workers). Transactional handlers run
right there and the timer is marked fired in the same transaction: a worker killed mid-round
rolls everything back, and the next worker fires those timers exactly once. Plain handlers
are leased and run after the commit, then marked fired: at-least-once. Each plain handler
starts only while its lease covers the whole run (renewed if not, see ``hold_lease``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock, timers
from relaydesk.bus import RetryLater
from relaydesk.hub import Hub
from relaydesk.timers import DueTimer, Timer

log = logging.getLogger("relaydesk.worker")

MAX_ATTEMPTS = 10
"""Shared by the outbox and timers (``relaydesk.worker`` re-exports these)."""
BASE_BACKOFF = 1.0
MAX_BACKOFF = 3600.0
TIMER_LEASE = timedelta(seconds=60)
"""How long a claimed plain timer is a worker's before another worker may fire it again."""
HANDLER_TIMEOUT = TIMER_LEASE / 2
"""A plain handler is cancelled after this (of the clock's time), well inside its lease."""
LEASE_MARGIN = timedelta(seconds=10)
"""Time to record the outcome after the handler, also inside the lease."""


def backoff(attempt: int) -> timedelta:
    """Exponential backoff with full jitter: up to 1 s, 2 s, 4 s, ... capped at an hour."""
    ceiling = min(MAX_BACKOFF, BASE_BACKOFF * 2 ** max(0, attempt - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


@dataclass(frozen=True)
class LeasedTimer:
    timer: DueTimer
    handler: timers.TimerHandler
    until: datetime
    """End of the lease taken with the round; renewed per handler when too little is left."""


@dataclass(frozen=True)
class TimerRound:
    taken: int
    leased: list[LeasedTimer]
    next_due: datetime | None


def _due(now: datetime) -> Any:
    return (
        (Timer.status == "pending")
        & (Timer.available_at <= now)
        & (Timer.locked_until.is_(None) | (Timer.locked_until < now))
    )


class HandlerFailed(Exception):
    """A transactional handler failed in a round without savepoints: roll it all back."""

    def __init__(self, timer_id: uuid.UUID, error: str, after: float | None) -> None:
        super().__init__(error)
        self.timer_id, self.error, self.after = timer_id, error, after


async def timer_round(
    session: AsyncSession,
    hub: Hub,
    limit: int,
    *,
    isolate: bool = True,
    failed: HandlerFailed | None = None,
) -> TimerRound:
    """Take due timers: fire transactional ones here, lease plain ones for after commit.

    With ``isolate`` each transactional handler runs in a savepoint, so one failure rolls
    back only its own writes; without it (two statements less per timer, the common case)
    a failure raises ``HandlerFailed`` and the caller redoes the round isolated, passing
    ``failed`` so that timer's failure is recorded without running its handler again.
    """
    now = clock.now()
    rows = (
        await session.execute(
            select(Timer.id, Timer.kind, Timer.key, Timer.due_at, Timer.payload, Timer.attempts)
            .where(_due(now))
            .order_by(Timer.available_at, Timer.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    leased = []
    fired: list[uuid.UUID] = []
    for row in rows:
        timer = DueTimer(row.id, row.kind, row.key, row.due_at, row.payload, row.attempts + 1)
        spec = timers.handler_for(timer.kind)
        if spec is None:
            await _timer_failed(session, timer, f"no handler for timer kind {timer.kind!r}")
        elif failed is not None and failed.timer_id == timer.id:
            await _timer_failed(session, timer, failed.error, failed.after)
        elif spec.in_transaction:
            if not isolate:
                try:
                    await spec.handler(hub, timer, session)  # type: ignore[call-arg]
                except RetryLater as exc:
                    raise HandlerFailed(timer.id, f"retry: {exc}", exc.after) from exc
                except Exception as exc:
                    raise HandlerFailed(timer.id, f"{type(exc).__name__}: {exc}", None) from exc
                fired.append(timer.id)
            elif await _fire_in_transaction(session, hub, spec, timer):
                fired.append(timer.id)
        else:
            await session.execute(
                update(Timer)
                .where(Timer.id == timer.id)
                .values(locked_until=now + TIMER_LEASE, attempts=timer.attempts)
            )
            leased.append(LeasedTimer(timer, spec, now + TIMER_LEASE))
    if fired:
        await session.execute(
            update(Timer)
            .where(Timer.id.in_(fired))
            .values(
                status="fired", fired_at=clock.now(), attempts=Timer.attempts + 1, last_error=None
            )
        )
    next_due = (
        await session.execute(
            select(Timer.available_at)
            .where(Timer.status == "pending")
            .where(Timer.locked_until.is_(None) | (Timer.locked_until < now))
            .order_by(Timer.available_at)
            .limit(1)
        )
    ).scalar()
    return TimerRound(len(rows), leased, next_due)


async def _fire_in_transaction(
    session: AsyncSession, hub: Hub, spec: timers.TimerHandler, timer: DueTimer
) -> bool:
    """Run the handler in a savepoint of the round's transaction; True when it succeeded.

    The caller marks it fired in that same transaction, so the handler's writes and the
    mark commit together, or neither does.
    """
    try:
        async with session.begin_nested():
            await spec.handler(hub, timer, session)  # type: ignore[call-arg]
    except RetryLater as exc:
        await _timer_failed(session, timer, f"retry: {exc}", exc.after)
        return False
    except Exception as exc:  # a handler's failure must not stop the worker
        await _timer_failed(session, timer, f"{type(exc).__name__}: {exc}")
        return False
    return True


async def hold_lease(hub: Hub, leased: LeasedTimer) -> bool:
    """True when this worker still holds ``leased`` for a whole handler run and its mark.

    The round leased its plain timers together, and they run one after another: a slow
    handler can use up the lease of those behind it, and another worker may have taken them
    since. So when less than a handler's run is left, the lease is renewed, on condition
    that the timer is still pending with this claim's attempt number (a worker taking it
    over, cancelling or replacing it changes that): a compare-and-set, one writer wins.
    """
    if clock.now() + HANDLER_TIMEOUT + LEASE_MARGIN <= leased.until:
        return True
    timer = leased.timer

    async def renew(session: AsyncSession) -> bool:
        result = await session.execute(
            update(Timer)
            .where(Timer.id == timer.id, Timer.status == "pending")
            .where(Timer.attempts == timer.attempts)
            .values(locked_until=clock.now() + TIMER_LEASE)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    return await hub.db.transaction(renew)


async def fire_plain(hub: Hub, leased: LeasedTimer) -> None:
    timer = leased.timer
    if not await hold_lease(hub, leased):
        log.info("timer %s (%s): lease lost before its handler ran; skipped", timer.id, timer.kind)
        return
    error: str | None = None
    not_before: float | None = None
    try:
        await asyncio.wait_for(
            leased.handler.handler(hub, timer),  # type: ignore[call-arg]
            clock.real_seconds(HANDLER_TIMEOUT.total_seconds()),
        )
    except RetryLater as exc:
        error, not_before = f"retry: {exc}", exc.after
    except Exception as exc:  # incl. the timeout; a handler must not stop the worker
        error = f"{type(exc).__name__}: {exc}"

    async def finish(session: AsyncSession) -> None:
        if error is not None:
            await _timer_failed(session, timer, error, not_before, leased=True)
            return
        result = await session.execute(
            update(Timer)
            .where(Timer.id == timer.id, Timer.status == "pending")
            .where(Timer.attempts == timer.attempts)
            .values(status="fired", fired_at=clock.now(), locked_until=None, last_error=None)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            log.info("timer %s (%s) was replaced or cancelled while firing", timer.id, timer.kind)

    await hub.db.transaction(finish)


async def _timer_failed(
    session: AsyncSession,
    timer: DueTimer,
    error: str,
    not_before: float | None = None,
    *,
    leased: bool = False,
) -> None:
    """Retry with backoff, or give up after MAX_ATTEMPTS (status ``dead``)."""
    now = clock.now()
    values: dict[str, object] = {
        "attempts": timer.attempts,
        "locked_until": None,
        "last_error": error[:2000],
    }
    if timer.attempts >= MAX_ATTEMPTS:
        values["status"] = "dead"
        log.warning("timer %s (%s) is dead after %d attempts", timer.id, timer.kind, timer.attempts)
    else:
        delay = backoff(timer.attempts)
        if not_before is not None:
            delay = max(delay, timedelta(seconds=min(not_before, MAX_BACKOFF)))
        values["available_at"] = now + delay
        log.warning(
            "timer %s (%s) failed (attempt %d): %s",
            timer.id,
            timer.kind,
            timer.attempts,
            error.split(":")[0],
        )
    statement = update(Timer).where(Timer.id == timer.id, Timer.status == "pending")
    if leased:
        statement = statement.where(Timer.attempts == timer.attempts)
    await session.execute(statement.values(values))
