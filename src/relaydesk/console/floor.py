"""Reads for the supervisor's live queues page: who is waiting (by value and SLA risk, with
routing's own queue positions and estimated waits) and how busy each agent is.

SLA deadlines come from ``routing_queue.sla_due_at`` (filled by the SLA package when it is
present); a journey without one shows no SLA risk rather than a guess.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.agents.models import Agent, Team, agent_teams
from relaydesk.console.queries import channels_of
from relaydesk.customers.models import Customer
from relaydesk.journeys.models import Journey
from relaydesk.routing.models import AgentLoad, QueueEntryRow
from relaydesk.routing.queries import load_context, queue_view

SORTS = ("position", "value", "sla", "waiting")
SHOWN = 100
"""Waiting journeys listed (in the chosen order); the counts cover all of them."""
SLA_RANK = {"breached": 0, "at risk": 1, "on track": 2, None: 3}


def sla_risk(
    due_at: datetime | None, breached: bool, now: datetime, horizon: timedelta
) -> str | None:
    """breached, at risk (due within the routing SLA horizon), on track, or None (no SLA)."""
    if breached or (due_at is not None and due_at <= now):
        return "breached"
    if due_at is None:
        return None
    return "at risk" if due_at - now <= horizon else "on track"


@dataclass(frozen=True)
class Waiting:
    journey_id: uuid.UUID
    customer_name: str | None
    channels: list[str]
    position: int
    value: float
    priority: float
    waiting_seconds: float
    estimated_wait_seconds: float | None
    team: str | None
    sla_due_at: datetime | None
    sla_risk: str | None
    offered_to: str | None
    reason: str


@dataclass(frozen=True)
class AgentLine:
    agent_id: uuid.UUID
    name: str
    role: str
    presence: str
    teams: list[str]
    load: float
    active: int
    capacity: dict[str, int]

    @property
    def percent(self) -> int:
        return round(self.load * 100)


@dataclass(frozen=True)
class Floor:
    currency: str
    waiting: list[Waiting]
    agents: list[AgentLine]
    online: int
    teams: list[str]
    total: int
    """All waiting journeys (``waiting`` holds the first ``SHOWN``)."""
    at_risk: int


def _sorted(rows: list[Waiting], sort: str) -> list[Waiting]:
    if sort == "value":
        return sorted(rows, key=lambda w: (-w.value, w.position))
    if sort == "sla":
        return sorted(
            rows,
            key=lambda w: (
                SLA_RANK[w.sla_risk],
                w.sla_due_at.timestamp() if w.sla_due_at else float("inf"),
                w.position,
            ),
        )
    if sort == "waiting":
        return sorted(rows, key=lambda w: (-w.waiting_seconds, w.position))
    return rows


async def agent_lines(session: AsyncSession) -> list[AgentLine]:
    rows = (
        await session.execute(
            select(Agent, AgentLoad.load, AgentLoad.active)
            .outerjoin(AgentLoad, AgentLoad.agent_id == Agent.id)
            .where(Agent.active.is_(True))
            .order_by(Agent.name, Agent.id)
        )
    ).all()
    teams: dict[uuid.UUID, list[str]] = {}
    for agent_id, name in await session.execute(
        select(agent_teams.c.agent_id, Team.name)
        .join(Team, Team.id == agent_teams.c.team_id)
        .order_by(Team.name)
    ):
        teams.setdefault(agent_id, []).append(name)
    order = {"online": 0, "away": 1, "offline": 2}
    lines = [
        AgentLine(
            agent_id=agent.id,
            name=agent.name,
            role=agent.role,
            presence=agent.presence,
            teams=teams.get(agent.id, []),
            load=float(load or 0.0),
            active=int(active or 0),
            capacity=dict(agent.capacity or {}),
        )
        for agent, load, active in rows
    ]
    return sorted(lines, key=lambda a: (order.get(a.presence, 3), -a.load, a.name))


async def floor(session: AsyncSession, now: datetime, *, sort: str = "position") -> Floor:
    ctx = await load_context(session)
    queue = await queue_view(session, now)
    ids = [item.journey_id for item in queue.items]
    extra = (
        {
            row.journey_id: (row, name, context)
            for row, name, context in await session.execute(
                select(QueueEntryRow, Customer.name, Journey.context)
                .join(Journey, Journey.id == QueueEntryRow.journey_id)
                .join(Customer, Customer.id == Journey.customer_id)
                .where(QueueEntryRow.journey_id.in_(ids))
            )
        }
        if ids
        else {}
    )
    channels = await channels_of(session, ids) if ids else {}
    agents = await agent_lines(session)
    names = {a.agent_id: a.name for a in agents}
    waiting = []
    for item in queue.items:
        if item.journey_id not in extra:
            continue
        row, name, context = extra[item.journey_id]
        breached = bool((context or {}).get("sla_breached", False))
        waiting.append(
            Waiting(
                journey_id=item.journey_id,
                customer_name=name,
                channels=channels.get(item.journey_id, []),
                position=item.position,
                value=item.value,
                priority=item.priority,
                waiting_seconds=item.waiting_seconds,
                estimated_wait_seconds=item.estimated_wait_seconds,
                team=item.team,
                sla_due_at=row.sla_due_at,
                sla_risk=sla_risk(row.sla_due_at, breached, now, ctx.config.sla_horizon),
                offered_to=names.get(item.offered_to) if item.offered_to else None,
                reason=row.reason,
            )
        )
    return Floor(
        currency=queue.currency,
        waiting=_sorted(waiting, sort if sort in SORTS else "position")[:SHOWN],
        total=len(waiting),
        at_risk=sum(1 for w in waiting if w.sla_risk in ("breached", "at risk")),
        agents=agents,
        online=queue.online_agents,
        teams=list((await session.scalars(select(Team.name).order_by(Team.name))).all()),
    )
