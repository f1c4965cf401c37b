"""The agent pool kept between decisions, so a decision does not reload every agent.

Building the pool from 7,500 agents costs seconds; a decision needs milliseconds. So each
database (writer engine) keeps one pool in memory and, before every decision, re-reads only
the agents whose row or load row changed since the previous read (``updated_at``, indexed);
every ``FULL_RELOAD`` it rebuilds the pool from scratch.

A transaction stamps ``updated_at`` before it commits, so a reader can miss a row stamped just
before its read and committed just after. Each decision therefore reads back ``RECENT`` before
its previous read, and once every ``OVERLAP`` a sweep reads back ``OVERLAP`` before the previous
sweep, which catches any commit up to ``OVERLAP`` late. (Reading the whole overlap at every
decision re-read every load changed in the last half second: hundreds of rows per decision
at a thousand decisions a second.)

Staleness cannot break the guarantees: the agent a decision picks is checked again under
their load-row lock (presence, load re-summed from the assignments) before anything is
written, and a refusal updates the pool and decides again (``actions/assign.py``). A stale
pool can only make a choice less good until the next refresh.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Engine, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.agents.models import Agent
from relaydesk.routing.models import AgentLoad
from relaydesk.routing.pool import AgentPool
from relaydesk.routing.queries import agent_pool, agent_snapshots

RECENT = timedelta(milliseconds=20)
"""Each decision reads again the rows stamped this long before its previous read."""
OVERLAP = timedelta(milliseconds=500)
"""The sweep every ``OVERLAP`` reads again the rows stamped this long before the previous
sweep (commits up to this late)."""
FULL_RELOAD = timedelta(seconds=30)

_AGENTS = cast(Table, Agent.__table__)
_LOADS = cast(Table, AgentLoad.__table__)
_EDITED = select(_AGENTS.c.id).where(_AGENTS.c.updated_at >= bindparam("since"))
_LOADS_MOVED = select(_LOADS.c.agent_id, _LOADS.c.load, _LOADS.c.last_assigned_at).where(
    _LOADS.c.updated_at >= bindparam("since")
)


@dataclass
class _Cached:
    pool: AgentPool
    default_language: str
    built_at: datetime
    read_at: datetime
    swept_at: datetime


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
        _POOLS[engine] = _Cached(pool, default_language, now, now, now)
        return pool
    since = cached.read_at - RECENT
    if now - cached.swept_at >= OVERLAP:
        since = min(since, cached.swept_at - OVERLAP)
        cached.swept_at = now
    edited = set((await session.scalars(_EDITED, {"since": since})).all())
    loads = (await session.execute(_LOADS_MOVED, {"since": since})).all()
    cached.read_at = now
    if len(edited) > max(100, len(cached.pool) // 4):  # rebuilding is cheaper
        pool = await agent_pool(session, default_language)
        _POOLS[engine] = _Cached(pool, default_language, now, now, now)
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
