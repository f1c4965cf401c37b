"""Editing an agent moves the queue: a new skill takes a waiting journey at once, and a
deactivated agent goes offline so their pending offers pass to others."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from tests.routing.helpers import COMPLAINT, check_invariants, drain, holder, post, presence, setup

from relaydesk.agents.models import Agent
from relaydesk.bus import Event
from relaydesk.console.admin.actions import Who, update_agent
from relaydesk.hub import Hub
from relaydesk.routing.events import AgentAvailabilityChanged
from relaydesk.routing.models import Assignment
from relaydesk.workspace.schemas import AgentSpec

WORKSPACE = """
settings:
  currency: EUR
channels:
  - name: api
    kind: api
agents:
  - email: cy@example.com
    name: Cy
    languages: [en]
    skills: {complaint: 1}
    capacity: {messaging: 1}
  - email: di@example.com
    name: Di
    languages: [en]
    skills: {complaint: 3}
    capacity: {messaging: 1}
routing:
  policy: human_first
  intents:
    complaint: {skill: complaint, level: 3}
  relaxation: []
"""
AVAILABILITY = AgentAvailabilityChanged.name
ADMIN = Who(actor="agent:admin", name="Admin")


def cy(skill_level: int, *, active: bool = True) -> AgentSpec:
    return AgentSpec(
        email="cy@example.com",
        name="Cy",
        languages=["en"],
        skills={"complaint": skill_level},
        capacity={"messaging": 1},
        active=active,
    )


async def test_a_skill_given_in_the_console_takes_the_waiting_journey_at_once(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    agents = await setup(routed_hub, WORKSPACE)
    await presence(client, agents["Cy"], "online")
    journey_id = await post(client, "m1", "c1@example.com", COMPLAINT)
    await drain(routed_hub)
    assert await holder(routed_hub, journey_id) is None  # nobody online at level 3
    await routed_hub.db.transaction(lambda s: update_agent(s, agents["Cy"], cy(3), ADMIN))
    await drain(routed_hub)
    offer = await holder(routed_hub, journey_id)
    assert offer is not None and offer.agent_id == agents["Cy"]
    await check_invariants(routed_hub)


async def test_the_workspace_file_giving_a_skill_moves_the_queue_too(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    agents = await setup(routed_hub, WORKSPACE)
    await presence(client, agents["Cy"], "online")
    journey_id = await post(client, "m1", "c1@example.com", COMPLAINT)
    await drain(routed_hub)
    assert await holder(routed_hub, journey_id) is None
    await setup(routed_hub, WORKSPACE.replace("skills: {complaint: 1}", "skills: {complaint: 3}"))
    await drain(routed_hub)
    offer = await holder(routed_hub, journey_id)
    assert offer is not None and offer.agent_id == agents["Cy"]


async def test_a_deactivated_agent_goes_offline_and_their_offer_passes_on(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    agents = await setup(
        routed_hub, WORKSPACE.replace("skills: {complaint: 1}", "skills: {complaint: 3}")
    )
    await presence(client, agents["Cy"], "online")
    journey_id = await post(client, "m1", "c1@example.com", COMPLAINT)
    await drain(routed_hub)
    first = await holder(routed_hub, journey_id)
    assert first is not None and first.agent_id == agents["Cy"]
    await presence(client, agents["Di"], "online")
    await routed_hub.db.transaction(
        lambda s: update_agent(s, agents["Cy"], cy(3, active=False), ADMIN)
    )
    await drain(routed_hub)
    async with routed_hub.db.read() as session:
        gone = await session.get(Assignment, first.id)
        presence_now = await session.scalar(select(Agent.presence).where(Agent.id == agents["Cy"]))
    assert gone is not None and gone.status == "withdrawn"
    assert presence_now == "offline"
    moved = await holder(routed_hub, journey_id)
    assert moved is not None and moved.agent_id == agents["Di"]
    await check_invariants(routed_hub)


async def _announcements(hub: Hub) -> int:
    async with hub.db.read() as session:
        return len(
            (await session.scalars(select(Event.id).where(Event.name == AVAILABILITY))).all()
        )


async def test_an_edit_that_changes_nothing_routing_reads_announces_nothing(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    agents = await setup(routed_hub, WORKSPACE)
    await presence(client, agents["Cy"], "online")
    before = await _announcements(routed_hub)
    renamed = cy(1).model_copy(update={"name": "Cy Renamed"})
    assert await routed_hub.db.transaction(lambda s: update_agent(s, agents["Cy"], renamed, ADMIN))
    assert await _announcements(routed_hub) == before
    await routed_hub.db.transaction(lambda s: update_agent(s, agents["Cy"], cy(2), ADMIN))
    assert await _announcements(routed_hub) == before + 1
