"""Durable timers across real ``relaydesk worker`` processes: SIGKILL and restart, two workers.

The workers load ``tests.helpers.timer_probe`` (RELAYDESK_TIMER_MODULES), whose handler
records each firing in the firing transaction; a timer fired twice would show as two rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.helpers import timer_probe

from relaydesk import clock
from relaydesk.hub import Hub
from relaydesk.timers import Timer, schedule

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture
async def probe(hub: Hub) -> AsyncIterator[None]:
    await timer_probe.create_table(hub)
    yield
    await timer_probe.drop_table(hub)


@contextlib.contextmanager
def workers(database_url: str, logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start ``relaydesk worker`` processes on demand (append to the list); stop them all."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_worker(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RELAYDESK_TIMER_MODULES": timer_probe.MODULE,
        "RELAYDESK_LOG_LEVEL": "warning",
        "PYTHONPATH": str(ROOT),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "relaydesk.cli", "worker", "--database-url", database_url],
            stdout=out,
            stderr=out,
            env=env,
            cwd=ROOT,
        )


async def schedule_many(
    hub: Hub, count: int, start: timedelta, spread: timedelta, **payload: float
) -> None:
    base = clock.now() + start

    async def work(session: AsyncSession, chunk: range) -> None:
        for n in chunk:
            due = base + spread * (n / count)
            await schedule(session, timer_probe.PROBE, due, key=f"t{n}", payload=payload)

    for first in range(0, count, 500):
        chunk = range(first, min(count, first + 500))
        await hub.db.transaction(functools.partial(work, chunk=chunk))


async def pending(hub: Hub) -> int:
    async with hub.db.read() as session:
        return int(await session.scalar(select(func.count()).where(Timer.status == "pending")) or 0)


async def wait_for(condition_name: str, check: object, limit: float, log: Path) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    output = await asyncio.to_thread(log.read_text)
    pytest.fail(f"{condition_name} not reached in {limit} s; worker log:\n{output}")


def assert_each_fired_once(fired: list[dict[str, object]], count: int) -> Counter[object]:
    per_key = Counter(f["key"] for f in fired)
    doubled = {k: n for k, n in per_key.items() if n > 1}
    assert not doubled, f"fired more than once: {list(doubled.items())[:5]}"
    missing = {f"t{n}" for n in range(count)} - set(per_key)
    assert not missing, f"{len(missing)} never fired, e.g. {sorted(missing)[:5]}"
    return Counter(f["pid"] for f in fired)


async def test_sigkill_mid_run_then_restart_fires_every_timer_exactly_once(
    hub: Hub, tmp_path: Path, database_url: str, probe: None
) -> None:
    count = 600
    # half already due, half due over the next seconds; each handler takes 5 ms
    await schedule_many(hub, count, timedelta(seconds=-3), timedelta(seconds=8), sleep=0.005)
    log = tmp_path / "worker.log"
    with workers(database_url, tmp_path) as started:
        first = start_worker(database_url, log)
        started.append(first)

        async def some_fired() -> bool:
            return len(await timer_probe.firings(hub)) >= count // 4

        await wait_for("a quarter fired", some_fired, 90, log)
        first.send_signal(signal.SIGKILL)  # mid-batch: its open transaction rolls back
        first.wait(10)
        before = len(await timer_probe.firings(hub))
        assert before < count, "the worker finished before it was killed; test proves nothing"

        second = start_worker(database_url, log)
        started.append(second)

        async def all_fired() -> bool:
            return await pending(hub) == 0

        await wait_for("every timer fired", all_fired, 120, log)
    by_pid = assert_each_fired_once(await timer_probe.firings(hub), count)
    assert set(by_pid) == {first.pid, second.pid}
    async with hub.db.read() as session:
        statuses = Counter((await session.scalars(select(Timer.status))).all())
    assert statuses == {"fired": count}


async def test_two_workers_fire_thousands_of_timers_each_exactly_once(
    hub: Hub, tmp_path: Path, database_url: str, probe: None
) -> None:
    count = 3000
    log = tmp_path / "workers.log"
    with workers(database_url, tmp_path) as started:
        started.extend(start_worker(database_url, log) for _ in range(2))
        await asyncio.sleep(4)  # let both start before the timers fall due
        await schedule_many(hub, count, timedelta(seconds=1), timedelta(seconds=2))

        async def all_fired() -> bool:
            return await pending(hub) == 0

        await wait_for("every timer fired", all_fired, 180, log)
        assert all(process.poll() is None for process in started), log.read_text()
    by_pid = assert_each_fired_once(await timer_probe.firings(hub), count)
    if database_url.startswith("postgresql"):  # SKIP LOCKED: both work at once
        assert set(by_pid) == {p.pid for p in started}, f"one worker idle: {by_pid}"
    # on SQLite the one writer lock serializes them: either may do all the work
