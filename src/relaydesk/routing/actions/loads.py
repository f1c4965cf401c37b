"""Agents' loads: the row every assignment locks, re-summed from the assignments under it."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock, timers
from relaydesk.routing.models import HOLDING, AgentLoad, Assignment

OFFER_TIMER = "routing.offer_timeout"
RELAX_TIMER = "routing.relax"


def offer_timer_key(offer_id: uuid.UUID) -> str:
    return f"routing:offer:{offer_id}"


def relax_timer_key(journey_id: uuid.UUID, step: int) -> str:
    return f"routing:relax:{journey_id}:{step}"


async def lock_load(session: AsyncSession, agent_id: uuid.UUID) -> AgentLoad:
    """The agent's load row, created on first use, locked; its load re-summed."""
    now = clock.now()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(AgentLoad)
        .values(agent_id=agent_id, load=0.0, active=0, misses=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=[AgentLoad.agent_id])
    )
    row = await session.scalar(
        select(AgentLoad)
        .where(AgentLoad.agent_id == agent_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    total, count = (
        await session.execute(
            select(
                func.coalesce(func.sum(Assignment.weight), 0.0), func.count(Assignment.id)
            ).where(Assignment.agent_id == agent_id, Assignment.status.in_(HOLDING))
        )
    ).one()
    row.load, row.active, row.updated_at = min(float(total), 1.0), int(count), now
    return row


async def release(
    session: AsyncSession, assignment: Assignment, status: str, reason: str
) -> AgentLoad:
    """End an offer or assignment and give the agent's capacity back."""
    now = clock.now()
    assignment.status, assignment.ended_at, assignment.end_reason = status, now, reason
    await session.flush()
    if assignment.expires_at is not None:
        await timers.cancel(session, offer_timer_key(assignment.id))
    return await lock_load(session, assignment.agent_id)
