"""Shared steps of the routing flow tests: a workspace, messages, the worker, invariants."""

from __future__ import annotations

import uuid
from collections import defaultdict

import httpx
from sqlalchemy import func, select
from tests.helpers.workspace import apply_text

from relaydesk.agents.models import Agent
from relaydesk.bus import OutboxEntry
from relaydesk.hub import Hub
from relaydesk.journeys.models import Journey
from relaydesk.routing.models import HOLDING, AgentLoad, Assignment, QueueEntryRow
from relaydesk.worker import Worker

WORKSPACE = """
settings:
  currency: EUR
channels:
  - name: api
    kind: api
teams:
  - name: vip
agents:
  - email: ana@example.com
    name: Ana
    languages: [en]
    skills: {complaint: 3}
    capacity: {messaging: 2}
  - email: bo@example.com
    name: Bo
    languages: [en]
    teams: [vip]
    capacity: {messaging: 1}
routing:
  threshold: 100
  offer_timeout: 30s
  auto_away_after: 2
"""

HUMAN = "I want to talk to a human"
CHEAP = "Where is my order #12345?"
COMPLAINT = "This is the worst service ever, I want to complain about the rude staff"


async def setup(hub: Hub, text: str = WORKSPACE) -> dict[str, uuid.UUID]:
    await apply_text(hub, text)
    async with hub.db.read() as session:
        rows = (await session.execute(select(Agent.name, Agent.id))).all()
    return {row[0]: row[1] for row in rows}


async def post(client: httpx.AsyncClient, external_id: str, email: str, text: str) -> uuid.UUID:
    response = await client.post(
        "/api/v1/messages",
        json={
            "channel": "api",
            "external_id": external_id,
            "sender": {"email": email},
            "text": text,
        },
    )
    assert response.status_code in (200, 201), response.text
    return uuid.UUID(response.json()["journey_id"])


async def presence(client: httpx.AsyncClient, agent_id: uuid.UUID, value: str) -> None:
    response = await client.put(f"/api/v1/agents/{agent_id}/presence", json={"presence": value})
    assert response.status_code == 200, response.text


async def drain(hub: Hub) -> None:
    """Run the worker until idle; no routing listener may have failed."""
    await Worker(hub).drain()
    async with hub.db.read() as session:
        failures = (
            await session.execute(
                select(OutboxEntry.listener, OutboxEntry.last_error).where(
                    OutboxEntry.listener.like("relaydesk.routing.%"),
                    OutboxEntry.last_error.is_not(None),
                )
            )
        ).all()
    assert failures == [], failures


async def journey_owner(hub: Hub, journey_id: uuid.UUID) -> tuple[str, uuid.UUID | None]:
    async with hub.db.read() as session:
        row = (
            await session.execute(
                select(Journey.owner_type, Journey.owner_agent_id).where(Journey.id == journey_id)
            )
        ).one()
    return row[0], row[1]


async def holder(hub: Hub, journey_id: uuid.UUID) -> Assignment | None:
    async with hub.db.read() as session:
        return await session.scalar(
            select(Assignment).where(
                Assignment.journey_id == journey_id, Assignment.status.in_(HOLDING)
            )
        )


async def check_invariants(hub: Hub) -> None:
    """Capacity never exceeded; loads match assignments; owners match holders and queue."""
    async with hub.db.read() as session:
        holding = (
            await session.scalars(select(Assignment).where(Assignment.status.in_(HOLDING)))
        ).all()
        loads = {row.agent_id: row for row in (await session.scalars(select(AgentLoad))).all()}
        journeys = {j.id: j for j in (await session.scalars(select(Journey))).all()}
        queued = set((await session.scalars(select(QueueEntryRow.journey_id))).all())
        per_journey = (
            await session.execute(
                select(Assignment.journey_id, func.count())
                .where(Assignment.status.in_(HOLDING))
                .group_by(Assignment.journey_id)
            )
        ).all()
    assert all(count == 1 for _, count in per_journey)
    sums: dict[uuid.UUID, float] = defaultdict(float)
    for a in holding:
        sums[a.agent_id] += a.weight
        journey = journeys[a.journey_id]
        if a.status == "active":
            assert (journey.owner_type, journey.owner_agent_id) == ("agent", a.agent_id)
        else:
            assert journey.owner_type == "queue" and a.journey_id in queued
    for agent_id, total in sums.items():
        assert total <= 1.0 + 1e-6, (agent_id, total)
        assert abs(loads[agent_id].load - total) < 1e-6
    for agent_id, row in loads.items():
        if agent_id not in sums:
            assert abs(row.load) < 1e-6, (agent_id, row.load)
    for journey in journeys.values():
        if journey.owner_type == "queue" and journey.status in ("open", "waiting"):
            assert journey.id in queued, "a journey owned by the queue is missing from it"
