"""A throwaway PostgreSQL database for one benchmark run, on the server of the URL given.

Benchmarks never write into the database they are pointed at: they create
``relaydesk_bench_<label>_<random>`` there and drop it afterwards (even when the run fails).
Call from sync code (it runs its own event loop).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from sqlalchemy.engine import make_url


async def _admin(dsn: str, sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def throwaway(admin_url: str, label: str) -> tuple[str, Callable[[], None]]:
    """(URL of a new empty database, a function that drops it)."""
    plain = make_url(admin_url).set(drivername="postgresql")
    admin = plain.render_as_string(hide_password=False)
    name = f"relaydesk_bench_{label}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return plain.set(database=name).render_as_string(hide_password=False), drop
