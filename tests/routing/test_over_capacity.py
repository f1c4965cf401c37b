"""A transfer (API) or a supervisor's reassign (console) never puts an agent over capacity,
unless a supervisor forces it; the override is then on the decision trail and in the audit."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from tests.routing.helpers import (
    HUMAN,
    WORKSPACE,
    drain,
    holder,
    journey_owner,
    post,
    presence,
    setup,
)

from relaydesk.hub import Hub
from relaydesk.routing.models import AgentLoad, RoutingDecision

SUPERVISED = WORKSPACE.replace(
    "routing:",
    "  - email: sue@example.com\n    name: Sue\n    role: supervisor\n    languages: [en]\n"
    "routing:",
)


async def _full_bo(hub: Hub, client: httpx.AsyncClient) -> tuple[dict[str, uuid.UUID], uuid.UUID]:
    """Bo (messaging capacity 1) holds one journey; a second one is Ana's."""
    agents = await setup(hub, SUPERVISED)
    await presence(client, agents["Bo"], "online")
    first = await post(client, "m1", "c1@example.com", HUMAN)
    await drain(hub)
    offer = await holder(hub, first)
    assert offer is not None and offer.agent_id == agents["Bo"]
    assert (await client.post(f"/api/v1/offers/{offer.id}/accept")).status_code == 200
    await presence(client, agents["Ana"], "online")
    second = await post(client, "m2", "c2@example.com", HUMAN)
    await drain(hub)
    offer = await holder(hub, second)
    assert offer is not None and offer.agent_id == agents["Ana"]
    assert (await client.post(f"/api/v1/offers/{offer.id}/accept")).status_code == 200
    return agents, second


async def _decisions(hub: Hub, journey_id: uuid.UUID) -> list[RoutingDecision]:
    async with hub.db.read() as session:
        return list(
            (
                await session.scalars(
                    select(RoutingDecision).where(RoutingDecision.journey_id == journey_id)
                )
            ).all()
        )


async def test_api_refuses_over_capacity_naming_load_and_capacity(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    agents, journey_id = await _full_bo(routed_hub, client)
    url = f"/api/v1/journeys/{journey_id}/transfer"
    before = len(await _decisions(routed_hub, journey_id))
    refused = await client.post(url, json={"to": "agent", "agent_id": str(agents["Bo"])})
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["error"] == "over_capacity"
    assert body["load"] == 1.0 and body["capacity"] == 1.0 and body["weight"] == 1.0
    assert "load 1.00 of capacity 1.00" in body["detail"] and "Bo" in body["detail"]
    assert await journey_owner(routed_hub, journey_id) == ("agent", agents["Ana"])
    assert len(await _decisions(routed_hub, journey_id)) == before

    # forcing needs a real supervisor: an agent's id, or an unknown one, is a 422
    for who in (agents["Ana"], uuid.uuid4()):
        bad = await client.post(
            url, json={"to": "agent", "agent_id": str(agents["Bo"]), "forced_by": str(who)}
        )
        assert bad.status_code == 422, bad.text
        assert "forced_by" in bad.text
    wrong_kind = await client.post(url, json={"to": "bot", "forced_by": str(agents["Sue"])})
    assert wrong_kind.status_code == 422
    assert await journey_owner(routed_hub, journey_id) == ("agent", agents["Ana"])


async def test_supervisor_forces_over_capacity_and_it_is_recorded(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    agents, journey_id = await _full_bo(routed_hub, client)
    forced = await client.post(
        f"/api/v1/journeys/{journey_id}/transfer",
        json={"to": "agent", "agent_id": str(agents["Bo"]), "forced_by": str(agents["Sue"])},
    )
    assert forced.status_code == 200, forced.text
    assert await journey_owner(routed_hub, journey_id) == ("agent", agents["Bo"])
    override = [d for d in await _decisions(routed_hub, journey_id) if d.policy == "override"]
    assert len(override) == 1
    assert override[0].reason == "forced_over_capacity" and override[0].agent_id == agents["Bo"]
    assert override[0].inputs["forced_by"] == str(agents["Sue"])
    assert override[0].inputs["load"] == 1.0 and "Sue" in override[0].explanation
    async with routed_hub.db.read() as session:
        bo = await session.get(AgentLoad, agents["Bo"])
    assert bo is not None and bo.active == 2 and bo.load == 1.0  # stored load stays capped
