"""Messages that arrive together are stored together: one transaction for a batch.

Each request (an API post, a webhook) queues its messages and waits. A drainer takes what is
queued — up to ``MAX_MESSAGES`` messages — and stores it with ``journeys.actions.ingest_many``
in one transaction, then answers every waiting request after the commit. There is no timer:
a lone request runs at once; under load, requests that arrive while a batch is being written
form the next one, so the batch grows with the load and the cost per message falls.

A batch that fails is retried request by request, each in a transaction of its own, so one
bad request gets its own error and never sinks the others.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.db import Database
from relaydesk.journeys.actions import Inbound, IngestResult, ingest_many

Finish = Callable[[AsyncSession, list[IngestResult]], Awaitable[Any]]
"""The rest of a request's work, in the same transaction, given its messages' results."""


@dataclass
class Ingested:
    results: list[IngestResult]
    finished: Any = None
    """What the request's ``finish`` returned."""


@dataclass
class _Job:
    items: Sequence[Inbound]
    window: timedelta
    finish: Finish | None
    done: asyncio.Future[Ingested] = field(repr=False)


class IngestQueue:
    MAX_MESSAGES = 64

    def __init__(self, db: Database, *, drainers: int | None = None) -> None:
        self.db = db
        self.queue: collections.deque[_Job] = collections.deque()
        self.drainers: set[asyncio.Task[None]] = set()
        # SQLite has one writer; PostgreSQL takes a few batches at once.
        self.max_drainers = drainers or (1 if db.is_sqlite else 4)

    async def submit(
        self,
        items: Sequence[Inbound],
        *,
        journey_window: timedelta,
        finish: Finish | None = None,
    ) -> Ingested:
        loop = asyncio.get_running_loop()
        job = _Job(items, journey_window, finish, loop.create_future())
        self.queue.append(job)
        self.drainers = {task for task in self.drainers if not task.done()}
        if len(self.drainers) < self.max_drainers:
            task = loop.create_task(self._drain())
            self.drainers.add(task)
        return await job.done

    async def _drain(self) -> None:
        while self.queue:
            batch = self._take()
            if batch:
                await self._run(batch)

    def _take(self) -> list[_Job]:
        """Queued jobs, oldest first, up to the size limit, sharing one journey window."""
        batch: list[_Job] = []
        size = 0
        while self.queue:
            job = self.queue[0]
            if job.done.done():  # its caller went away before its turn
                self.queue.popleft()
                continue
            full = size + len(job.items) > self.MAX_MESSAGES
            if batch and (full or job.window != batch[0].window):
                break
            batch.append(self.queue.popleft())
            size += len(job.items)
        return batch

    async def _run(self, batch: list[_Job]) -> None:
        try:
            try:
                outcomes = await self.db.transaction(lambda s: _store(s, batch))
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0], error=exc)  # already tried alone: that is its answer
                    return
                for job in batch:  # find the one that failed; the others succeed on their own
                    await self._run_alone(job)
                return
            for job, outcome in zip(batch, outcomes, strict=True):
                _settle(job, outcome=outcome)
        except BaseException as exc:
            # Stopped (cancelled) mid-batch: nobody may wait for ever for an answer.
            for job in batch:
                _settle(job, error=exc)
            raise

    async def _run_alone(self, job: _Job) -> None:
        if job.done.done():
            return
        try:
            (outcome,) = await self.db.transaction(lambda s: _store(s, [job]))
        except Exception as exc:
            _settle(job, error=exc)
        else:
            _settle(job, outcome=outcome)


def _settle(
    job: _Job, *, outcome: Ingested | None = None, error: BaseException | None = None
) -> None:
    """Answer a job's caller once (it may have gone away meanwhile)."""
    if job.done.done():
        return
    if error is not None:
        job.done.set_exception(error)
    else:
        job.done.set_result(outcome)  # type: ignore[arg-type]


async def _store(session: AsyncSession, batch: list[_Job]) -> list[Ingested]:
    items = [item for job in batch for item in job.items]
    results = await ingest_many(session, items, journey_window=batch[0].window)
    outcomes: list[Ingested] = []
    offset = 0
    for job in batch:
        mine = results[offset : offset + len(job.items)]
        offset += len(job.items)
        finished = await job.finish(session, mine) if job.finish is not None else None
        outcomes.append(Ingested(mine, finished))
    return outcomes
