"""Timer handlers for tests, loadable in a worker process via RELAYDESK_TIMER_MODULES.

``test.probe`` records each firing in ``timer_probe_firings`` inside the firing transaction
(no unique key there, so a timer fired twice would show as two rows).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.hub import Hub
from relaydesk.timers import DueTimer, on_timer

PROBE = "test.probe"
MODULE = __name__
TABLE = "timer_probe_firings"


async def create_table(hub: Hub) -> None:
    """A scratch table outside the models (so no migration drift); recreated per test."""

    async def work(session: AsyncSession) -> None:
        await session.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        await session.execute(
            text(
                f"CREATE TABLE {TABLE} (key VARCHAR(300) NOT NULL, due_at VARCHAR(40) NOT NULL,"
                " fired_at VARCHAR(40) NOT NULL, pid INTEGER NOT NULL)"
            )
        )

    await hub.db.transaction(work)


async def drop_table(hub: Hub) -> None:
    """Leave no table outside the models behind (the migration test checks for drift)."""

    async def work(session: AsyncSession) -> None:
        await session.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))

    await hub.db.transaction(work)


async def firings(hub: Hub) -> list[dict[str, Any]]:
    async with hub.db.read() as session:
        rows = await session.execute(text(f"SELECT key, due_at, fired_at, pid FROM {TABLE}"))
        return [dict(row._mapping) for row in rows]


@on_timer(PROBE, in_transaction=True)
async def record(hub: Hub, timer: DueTimer, session: AsyncSession) -> None:
    """Write the firing in the timer's transaction; ``payload.sleep`` slows it down."""
    await session.execute(
        text(f"INSERT INTO {TABLE} (key, due_at, fired_at, pid) VALUES (:k, :d, :f, :p)"),
        {
            "k": timer.key,
            "d": timer.due_at.isoformat(),
            "f": clock.now().isoformat(),
            "p": os.getpid(),
        },
    )
    delay = float(timer.payload.get("sleep", 0))
    if delay:
        await asyncio.sleep(delay)
