"""The kept agent pool catches every change, including a load row committed late."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text, update
from tests.routing.helpers import setup

from relaydesk import clock
from relaydesk.agents.models import Agent
from relaydesk.hub import Hub
from relaydesk.routing import pool_cache
from relaydesk.routing.pool import AgentPool

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def _pool(hub: Hub) -> AgentPool:
    async with hub.db.read() as session:
        return await pool_cache.shared_pool(session, "en")


async def _set_load(hub: Hub, agent_id: uuid.UUID, load: float, stamped: datetime) -> None:
    """A load row written by another transaction, stamped when it read the clock."""

    async def write(session: object) -> None:
        await session.execute(  # type: ignore[attr-defined]
            text(
                "INSERT INTO agent_loads (agent_id, load, active, misses, updated_at) "
                "VALUES (:id, :load, 1, 0, :at) "
                "ON CONFLICT (agent_id) DO UPDATE SET load = :load, updated_at = :at"
            ),
            {"id": agent_id if not hub.db.is_sqlite else agent_id.hex, "load": load, "at": stamped},
        )

    await hub.db.transaction(write)  # type: ignore[arg-type]


async def test_changes_reach_the_pool_and_a_late_commit_is_caught_by_the_sweep(hub: Hub) -> None:
    ids = await setup(hub)
    ana = ids["Ana"]
    manual = clock.ManualClock(T0 - timedelta(minutes=1))
    with clock.use_clock(manual):
        await hub.db.transaction(
            lambda s: s.execute(update(Agent).values(presence="online", updated_at=clock.now()))
        )
        manual.set(T0)
        pool = await _pool(hub)  # built now
        assert pool.get(ana) is not None and pool.get(ana).load == 0.0  # type: ignore[union-attr]

        # A change committed before the next decision is seen by it.
        await _set_load(hub, ana, 0.25, T0 + timedelta(milliseconds=5))
        manual.set(T0 + timedelta(milliseconds=10))
        assert (await _pool(hub)).get(ana).load == 0.25  # type: ignore[union-attr]

        # Stamped 100 ms before the previous read, committed only after it: the next
        # decisions (reading back RECENT) miss it, the sweep (every OVERLAP) catches it.
        read_at = T0 + timedelta(milliseconds=200)
        manual.set(read_at)
        await _pool(hub)
        await _set_load(hub, ana, 0.5, read_at - timedelta(milliseconds=100))
        manual.set(read_at + timedelta(milliseconds=10))
        assert (await _pool(hub)).get(ana).load == 0.25  # type: ignore[union-attr]
        manual.set(T0 + pool_cache.OVERLAP + timedelta(milliseconds=1))
        assert (await _pool(hub)).get(ana).load == 0.5  # type: ignore[union-attr]
