"""Delivers outbox work to listeners and fires due timers; retries with backoff; dead-letters.

Several workers (in several processes) may run at once: rows are claimed under a lease,
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; a worker that dies leaves its rows to be
claimed again when the lease runs out, which is why every listener is idempotent.

Each round also fires due timers (``relaydesk.timer_firing``). Between rounds the worker
sleeps until the next due timer, at most the poll interval (a timer scheduled by another
process cannot wake it); a commit in this process that schedules an earlier timer wakes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock, timers
from relaydesk.bus import Event, OutboxEntry, RetryLater, StoredEvent, listener_by_name
from relaydesk.hub import Hub
from relaydesk.timer_firing import (
    MAX_ATTEMPTS,
    MAX_BACKOFF,
    TIMER_LEASE,
    HandlerFailed,
    backoff,
    fire_plain,
    timer_round,
)

__all__ = ["LEASE", "MAX_ATTEMPTS", "TIMER_LEASE", "Worker", "backoff", "claim"]

log = logging.getLogger("relaydesk.worker")

LEASE = timedelta(seconds=60)
MIN_IDLE = 0.02
"""Sleep when the earliest pending timer is due but was not ours (another worker has it)."""


@dataclass(frozen=True)
class Claimed:
    entry_id: uuid.UUID
    listener: str
    attempts: int
    event: StoredEvent


async def claim(session: AsyncSession, *, limit: int, worker_id: str) -> list[Claimed]:
    now = clock.now()
    rows = (
        await session.execute(
            select(OutboxEntry, Event)
            .join(Event, Event.id == OutboxEntry.event_id)
            .where(
                OutboxEntry.status == "pending",
                OutboxEntry.available_at <= now,
                (OutboxEntry.locked_until.is_(None)) | (OutboxEntry.locked_until < now),
            )
            .order_by(OutboxEntry.available_at, OutboxEntry.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=OutboxEntry)
        )
    ).all()
    claimed = []
    for entry, event in rows:
        entry.locked_until = now + LEASE
        entry.attempts += 1
        claimed.append(
            Claimed(
                entry.id,
                entry.listener,
                entry.attempts,
                StoredEvent(
                    event.id,
                    event.name,
                    event.occurred_at,
                    event.customer_id,
                    event.journey_id,
                    event.actor,
                    event.payload,
                ),
            )
        )
    return claimed


class Worker:
    def __init__(self, hub: Hub, *, batch: int = 50, worker_id: str | None = None) -> None:
        self.hub = hub
        self.batch = batch
        self.worker_id = worker_id or uuid.uuid4().hex[:8]
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_timer: datetime | None = None
        """Earliest pending timer seen in the last round (None: none pending)."""
        self._idle = False
        """The last round found nothing to do."""

    async def run_once(self) -> int:
        """Claim and process one batch of outbox entries and one of due timers."""
        claimed = await self.hub.db.transaction(
            lambda s: claim(s, limit=self.batch, worker_id=self.worker_id)
        )
        done = [item.entry_id for item in claimed if await self._process(item)]
        if done:  # one write for the round's successes (a transaction each cost ~1 ms)
            await self.hub.db.transaction(lambda s: _mark_done(s, done))
        handled = len(claimed) + await self.fire_timers_once()
        self._idle = handled == 0
        return handled

    async def fire_timers_once(self) -> int:
        """Fire one batch of due timers; returns how many were taken."""
        try:  # fast path: no savepoints; if a handler fails, redo the round isolating each
            round_ = await self.hub.db.transaction(
                lambda s: timer_round(s, self.hub, self.batch, isolate=False)
            )
        except Exception as exc:  # a handler failed, or left the transaction unusable
            failed = exc if isinstance(exc, HandlerFailed) else None
            round_ = await self.hub.db.transaction(
                lambda s: timer_round(s, self.hub, self.batch, failed=failed)
            )
        self._next_timer = round_.next_due
        for leased in round_.leased:
            await fire_plain(self.hub, leased)
        return round_.taken

    def timer_scheduled(self, due_at: datetime) -> None:
        """Called after a commit in this process scheduled a timer (see timers.add_waker)."""
        if self._next_timer is None or due_at < self._next_timer:
            self._next_timer = due_at
            self.hub.wake_worker()

    def quiet_for(self, seconds: float) -> bool:
        """True when the last round found nothing to do and no timer it saw is due within
        ``seconds`` (real seconds): a moment for work that would hold up firing."""
        if not self._idle:
            return False
        if self._next_timer is None:
            return True
        return clock.real_seconds((self._next_timer - clock.now()).total_seconds()) > seconds

    def _idle_seconds(self, poll: float) -> float:
        if self._next_timer is None:
            return poll
        until = clock.real_seconds((self._next_timer - clock.now()).total_seconds())
        if until <= 0:  # due, yet this round took nothing: another worker holds it
            return min(poll, MIN_IDLE)
        return min(poll, until)  # exactly until it is due: a floor here would be lateness

    async def _process(self, item: Claimed) -> bool:
        """Run the entry's listener; True when it succeeded (the round marks it done), else
        its failure is recorded now. A worker that dies before the round's mark leaves the
        entries to run again after the lease, as for any claimed entry: listeners are
        idempotent."""
        listener = listener_by_name(item.listener)
        error: str | None = None
        not_before: float | None = None
        if listener is None:
            error = f"no listener named {item.listener}"
        else:
            try:
                await listener.handler(self.hub, item.event)
            except RetryLater as exc:
                error, not_before = f"retry: {exc}"[:2000], exc.after
            except Exception as exc:  # a listener's failure must not stop the worker
                error = f"{type(exc).__name__}: {exc}"[:2000]
                log.warning(
                    "listener %s failed on event %s (attempt %d): %s",
                    item.listener,
                    item.event.id,
                    item.attempts,
                    type(exc).__name__,
                )
        if error is None:
            return True
        failure = error
        dead = await self.hub.db.transaction(lambda s: _fail(s, item, failure, not_before))
        if dead and listener is not None and listener.on_dead is not None:
            try:
                await listener.on_dead(self.hub, item.event, error or "")
            except Exception:
                log.exception("dead-letter hook of %s failed", item.listener)
        return False

    async def drain(self, *, max_rounds: int = 1000) -> int:
        """Process until nothing is due (for tests and the CLI)."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.run_once()
            total += handled
            if handled == 0:
                break
        return total

    async def run(self) -> None:
        poll = self.hub.settings.worker_poll_interval
        while not self._stopping.is_set():
            self.hub.work_available.clear()  # before the round, so a wake during it counts
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("worker round failed; retrying")
                handled = 0
            if handled == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wait_for_work(), timeout=self._idle_seconds(poll))

    async def _wait_for_work(self) -> None:
        stop = asyncio.ensure_future(self._stopping.wait())
        work = asyncio.ensure_future(self.hub.work_available.wait())
        try:
            await asyncio.wait({stop, work}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            work.cancel()

    def start(self) -> None:
        timers.add_waker(self)
        self._task = asyncio.create_task(self.run(), name=f"relaydesk-worker-{self.worker_id}")

    async def stop(self) -> None:
        """Finish the job in hand, then stop."""
        self._stopping.set()
        timers.remove_waker(self)
        if self._task is not None:
            await self._task
        log.info("worker stopped")


async def _mark_done(session: AsyncSession, entry_ids: list[uuid.UUID]) -> None:
    await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.id.in_(entry_ids))
        .values(status="done", locked_until=None, last_error=None)
    )


async def _fail(
    session: AsyncSession, item: Claimed, error: str, not_before: float | None = None
) -> bool:
    """Record a failure: retry later with backoff, or dead-letter after the last attempt
    (then True)."""
    now = clock.now()
    dead = False
    if item.attempts >= MAX_ATTEMPTS:
        values: dict[str, object] = {"status": "dead", "locked_until": None, "last_error": error}
        dead = True
    else:
        delay = backoff(item.attempts)
        if not_before is not None:
            delay = max(delay, timedelta(seconds=min(not_before, MAX_BACKOFF)))
        values = {"available_at": now + delay, "locked_until": None, "last_error": error}
    await session.execute(update(OutboxEntry).where(OutboxEntry.id == item.entry_id).values(values))
    return dead
