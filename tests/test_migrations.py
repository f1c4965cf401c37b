"""Migrations run up from empty on both databases, and match the models (no drift)."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from relaydesk import migrate
from relaydesk.db import metadata, normalize_database_url


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(normalize_database_url(url))
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names


def test_up_from_empty_matches_models_and_goes_down_again(database_url: str) -> None:
    # database_url is already migrated to head by the fixture; check, then down and up again
    migrate.check(database_url)
    assert set(metadata.tables) <= asyncio.run(_tables(database_url))
    migrate.downgrade(database_url, "base")
    assert asyncio.run(_tables(database_url)) <= {"alembic_version"}
    migrate.upgrade(database_url)
    migrate.check(database_url)
    assert set(metadata.tables) <= asyncio.run(_tables(database_url))
