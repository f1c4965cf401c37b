"""The agent pool kept between decisions, so a decision does not reload every agent.

Building the pool from 7,500 agents costs seconds; a decision needs milliseconds. So each
database (writer engine) keeps one pool in memory and, before every decision, re-reads only
the agents whose row or load row changed since the previous read (``updated_at``, indexed),
with an overlap for transactions that committed a little after they read the clock; every
``FULL_RELOAD`` it rebuilds the pool from scratch.

Staleness cannot break the guarantees: the agent a decision picks is checked again under
their load-row lock (presence, load re-summed from the assignments) before anything is
written, and a refusal updates the pool and decides again (``actions/assign.py``). A stale
pool can only make a choice less good until the next refresh.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.agents.models import Agent
from relaydesk.routing.models import AgentLoad
from relaydesk.routing.pool import AgentPool
from relaydesk.routing.queries import agent_pool, agent_snapshots

OVERLAP = timedelta(milliseconds=500)
"""Rows stamped this long before the previous read are read again (late commits)."""
FULL_RELOAD = timedelta(seconds=30)


@dataclass
class _Cached:
    pool: AgentPool
    default_language: str
    built_at: datetime
    read_at: datetime


_POOLS: weakref.WeakKeyDictionary[Engine, _Cached] = weakref.WeakKeyDictionary()


def _engine(session: AsyncSession) -> Engine:
    bind = session.sync_session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def forget(session: AsyncSession) -> None:
    """Drop the kept pool (the next decision rebuilds it)."""
    _POOLS.pop(_engine(session), None)


async def shared_pool(session: AsyncSession, default_language: str) -> AgentPool:
    """The kept pool, brought up to date with the agents changed since it was last read."""
    engine = _engine(session)
    now = clock.now()
    cached = _POOLS.get(engine)
    if (
        cached is None
        or cached.default_language != default_language
        or now < cached.read_at
        or now - cached.built_at >= FULL_RELOAD
    ):
        pool = await agent_pool(session, default_language)
        _POOLS[engine] = _Cached(pool, default_language, now, now)
        return pool
    since = cached.read_at - OVERLAP
    edited = set((await session.scalars(select(Agent.id).where(Agent.updated_at >= since))).all())
    loads = (
        await session.execute(
            select(AgentLoad.agent_id, AgentLoad.load, AgentLoad.last_assigned_at).where(
                AgentLoad.updated_at >= since
            )
        )
    ).all()
    cached.read_at = now
    if len(edited) > max(100, len(cached.pool) // 4):  # rebuilding is cheaper
        pool = await agent_pool(session, default_language)
        _POOLS[engine] = _Cached(pool, default_language, now, now)
        return pool
    pool = cached.pool
    if edited:  # presence, skills, capacity, teams: the whole snapshot again
        fresh = {a.id: a for a in await agent_snapshots(session, default_language, list(edited))}
        for agent_id in edited:
            agent = fresh.get(agent_id)
            if agent is None:
                pool.remove(agent_id)
            else:
                pool.put(agent)
    for agent_id, load, last in loads:  # a load moved: re-rank that agent only
        known = pool.get(agent_id)
        if known is None or agent_id in edited:
            continue
        stamp = last.timestamp() if last else 0.0
        if known.load != load or known.last_assigned != stamp:
            pool.update(agent_id, load=float(load), last_assigned=stamp)
    return pool
