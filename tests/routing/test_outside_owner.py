"""Owners set outside routing (console take-over, API, workspace) count in the agent's load."""

from __future__ import annotations

import uuid

import httpx
from tests.routing.helpers import (
    CHEAP,
    HUMAN,
    check_invariants,
    drain,
    holder,
    journey_owner,
    post,
    presence,
    setup,
)

from relaydesk.hub import Hub
from relaydesk.journeys.actions import change_owner
from relaydesk.journeys.states import JourneyOwner
from relaydesk.routing.models import AgentLoad


async def _load(hub: Hub, agent_id: uuid.UUID) -> float:
    async with hub.db.read() as session:
        row = await session.get(AgentLoad, agent_id)
    return 0.0 if row is None else row.load


async def _take_over(hub: Hub, journey_id: uuid.UUID, agent_id: uuid.UUID) -> None:
    await hub.db.transaction(
        lambda s: change_owner(
            s,
            journey_id,
            JourneyOwner.AGENT,
            reason="take_over",
            actor="console",
            agent_id=agent_id,
        )
    )


async def test_take_over_from_the_bot_counts_and_resolve_releases(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    agents = await setup(routed_hub)
    await presence(client, agents["Ana"], "online")
    journey_id = await post(client, "m1", "c1@example.com", CHEAP)
    await drain(routed_hub)
    assert (await journey_owner(routed_hub, journey_id))[0] == "bot"
    assert await _load(routed_hub, agents["Ana"]) == 0.0

    await _take_over(routed_hub, journey_id, agents["Ana"])
    await drain(routed_hub)
    held = await holder(routed_hub, journey_id)
    assert held is not None and held.agent_id == agents["Ana"] and held.status == "active"
    assert abs(await _load(routed_hub, agents["Ana"]) - 0.5) < 1e-9  # messaging capacity 2
    await check_invariants(routed_hub)
    await drain(routed_hub)  # idempotent: a second pass adds nothing
    assert abs(await _load(routed_hub, agents["Ana"]) - 0.5) < 1e-9

    assert (await client.post(f"/api/v1/journeys/{journey_id}/resolve", json={})).status_code == 200
    await drain(routed_hub)
    assert await holder(routed_hub, journey_id) is None
    assert await _load(routed_hub, agents["Ana"]) == 0.0
    await check_invariants(routed_hub)


async def test_take_over_of_an_offer_withdraws_it_and_transfer_releases(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    agents = await setup(routed_hub)
    await presence(client, agents["Ana"], "online")
    journey_id = await post(client, "m1", "c1@example.com", HUMAN)
    await drain(routed_hub)
    offer = await holder(routed_hub, journey_id)
    assert offer is not None and offer.agent_id == agents["Ana"] and offer.status == "offered"

    # Bo is away: a take-over is not routing's choice, so it still counts (load capped at 1).
    await _take_over(routed_hub, journey_id, agents["Bo"])
    await drain(routed_hub)
    held = await holder(routed_hub, journey_id)
    assert held is not None and held.agent_id == agents["Bo"] and held.status == "active"
    assert await _load(routed_hub, agents["Ana"]) == 0.0
    assert abs(await _load(routed_hub, agents["Bo"]) - 1.0) < 1e-9
    await check_invariants(routed_hub)

    url = f"/api/v1/journeys/{journey_id}/transfer"
    moved = await client.post(url, json={"to": "agent", "agent_id": str(agents["Ana"])})
    assert moved.status_code == 200, moved.text
    await drain(routed_hub)
    assert await journey_owner(routed_hub, journey_id) == ("agent", agents["Ana"])
    assert await _load(routed_hub, agents["Bo"]) == 0.0
    assert abs(await _load(routed_hub, agents["Ana"]) - 0.5) < 1e-9
    await check_invariants(routed_hub)
