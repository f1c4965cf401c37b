"""Handing journeys between the bot, the routing queue and agents."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from tests.helpers.workspace import apply_text

from relaydesk.agents.models import Agent
from relaydesk.bus import Event
from relaydesk.hub import Hub
from relaydesk.journeys.actions import JourneyNotFound, change_owner
from relaydesk.journeys.states import InvalidTransition, JourneyOwner, check_owner_change

WORKSPACE = """
channels:
  - name: api
    kind: api
agents:
  - email: ana@example.com
    name: Ana
"""


async def _journey(hub: Hub, client: httpx.AsyncClient) -> uuid.UUID:
    await apply_text(hub, WORKSPACE)
    response = await client.post(
        "/api/v1/messages",
        json={
            "channel": "api",
            "external_id": "m1",
            "sender": {"email": "c@example.com"},
            "text": "hello",
        },
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["journey_id"])


def test_owner_table_refuses_going_back_to_unassigned() -> None:
    assert check_owner_change("bot", JourneyOwner.QUEUE) is JourneyOwner.QUEUE
    with pytest.raises(InvalidTransition, match="cannot hand to unassigned from bot"):
        check_owner_change("bot", JourneyOwner.UNASSIGNED)
    with pytest.raises(InvalidTransition):
        check_owner_change("nobody", JourneyOwner.BOT)


async def test_bot_to_queue_to_agent_is_recorded(hub: Hub, client: httpx.AsyncClient) -> None:
    journey_id = await _journey(hub, client)
    async with hub.db.read() as session:
        agent_id = await session.scalar(select(Agent.id))

    async def hand(to: JourneyOwner, reason: str, agent: uuid.UUID | None = None) -> None:
        await hub.db.transaction(
            lambda s: change_owner(s, journey_id, to, reason=reason, actor="test", agent_id=agent)
        )

    await hand(JourneyOwner.BOT, "policy")
    await hand(JourneyOwner.QUEUE, "human_request")
    await hand(JourneyOwner.AGENT, "offer_accepted", agent_id)
    body = (await client.get(f"/api/v1/journeys/{journey_id}")).json()
    assert body["owner"] == {"type": "agent", "agent_id": str(agent_id)}
    async with hub.db.read() as session:
        events = (
            await session.scalars(
                select(Event)
                .where(Event.journey_id == journey_id, Event.name == "journey.owner_changed")
                .order_by(Event.id)
            )
        ).all()
    assert [
        (e.payload["from_owner"], e.payload["to_owner"], e.payload["reason"]) for e in events
    ] == [
        ("unassigned", "bot", "policy"),
        ("bot", "queue", "human_request"),
        ("queue", "agent", "offer_accepted"),
    ]


async def test_refused_change_writes_nothing(hub: Hub, client: httpx.AsyncClient) -> None:
    journey_id = await _journey(hub, client)

    with pytest.raises(InvalidTransition):
        await hub.db.transaction(
            lambda s: change_owner(s, journey_id, JourneyOwner.UNASSIGNED, reason="x", actor="t")
        )
    with pytest.raises(ValueError, match="agent_id"):
        await hub.db.transaction(
            lambda s: change_owner(s, journey_id, JourneyOwner.AGENT, reason="x", actor="t")
        )
    with pytest.raises(JourneyNotFound):
        await hub.db.transaction(
            lambda s: change_owner(s, uuid.uuid4(), JourneyOwner.BOT, reason="x", actor="t")
        )
    body = (await client.get(f"/api/v1/journeys/{journey_id}")).json()
    assert body["owner"]["type"] == "unassigned"
