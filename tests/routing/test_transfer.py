"""Transfers (agent, team, bot), bot handoffs, resolution and the workspace section."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from tests.helpers.workspace import apply_text
from tests.routing.helpers import (
    CHEAP,
    HUMAN,
    WORKSPACE,
    check_invariants,
    drain,
    holder,
    journey_owner,
    post,
    presence,
    setup,
)

from relaydesk import clock
from relaydesk.hub import Hub
from relaydesk.journeys.actions import change_owner
from relaydesk.journeys.states import JourneyOwner
from relaydesk.routing.models import AgentLoad, RoutingDecision
from relaydesk.routing.queries import load_context
from relaydesk.routing.understanding import requests_human
from relaydesk.workspace.file import WorkspaceFileError, parse_workspace


async def _accepted(hub: Hub, client: httpx.AsyncClient, journey_id: uuid.UUID) -> uuid.UUID:
    offer = await holder(hub, journey_id)
    assert offer is not None
    assert (await client.post(f"/api/v1/offers/{offer.id}/accept")).status_code == 200
    return offer.agent_id


async def test_transfer_to_agent_team_and_bot(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    agents = await setup(routed_hub)
    await presence(client, agents["Ana"], "online")
    journey_id = await post(client, "m1", "c1@example.com", HUMAN)
    await drain(routed_hub)
    assert await _accepted(routed_hub, client, journey_id) == agents["Ana"]
    url = f"/api/v1/journeys/{journey_id}/transfer"

    away = await client.post(url, json={"to": "agent", "agent_id": str(agents["Bo"])})
    assert away.status_code == 409 and away.json()["error"] == "agent_unavailable"
    await presence(client, agents["Bo"], "online")
    direct = await client.post(url, json={"to": "agent", "agent_id": str(agents["Bo"])})
    assert direct.status_code == 200, direct.text
    assert direct.json()["outcome"] == "agent"
    assert await journey_owner(routed_hub, journey_id) == ("agent", agents["Bo"])
    async with routed_hub.db.read() as session:
        ana = await session.get(AgentLoad, agents["Ana"])
        bo = await session.get(AgentLoad, agents["Bo"])
    assert ana is not None and ana.load == 0.0
    assert bo is not None and bo.load == 1.0
    again = await client.post(url, json={"to": "agent", "agent_id": str(agents["Bo"])})
    assert again.status_code == 409 and again.json()["error"] == "already_assigned"

    # Bo is full (messaging capacity 1): another journey cannot be pushed onto him.
    other = await post(client, "m2", "c2@example.com", HUMAN)
    await drain(routed_hub)
    assert await _accepted(routed_hub, client, other) == agents["Ana"]
    full = await client.post(
        f"/api/v1/journeys/{other}/transfer", json={"to": "agent", "agent_id": str(agents["Bo"])}
    )
    assert full.status_code == 409 and full.json()["error"] == "over_capacity"
    assert await journey_owner(routed_hub, other) == ("agent", agents["Ana"])  # untouched

    team = await client.post(
        f"/api/v1/journeys/{other}/transfer", json={"to": "team", "team": "vip"}
    )
    assert team.status_code == 200, team.text
    assert team.json()["outcome"] == "queue"  # Bo, the only vip member, is full
    assert await journey_owner(routed_hub, other) == ("queue", None)
    bot = await client.post(url, json={"to": "bot", "reason": "back to self-service"})
    assert bot.status_code == 200 and bot.json()["outcome"] == "bot"
    await drain(routed_hub)  # Bo's capacity freed: the vip journey is offered to him
    offer = await holder(routed_hub, other)
    assert offer is not None and offer.agent_id == agents["Bo"]
    await check_invariants(routed_hub)


async def test_transfer_bad_input(routed_hub: Hub, client: httpx.AsyncClient) -> None:
    agents = await setup(routed_hub)
    journey_id = await post(client, "m1", "c1@example.com", CHEAP)
    await drain(routed_hub)
    url = f"/api/v1/journeys/{journey_id}/transfer"
    missing = await client.post(url, json={"to": "agent"})
    assert missing.status_code == 422
    assert "agent_id is required" in missing.json()["detail"][0]["msg"]
    assert (await client.post(url, json={"to": "team"})).status_code == 422
    assert (await client.post(url, json={"to": "moon"})).status_code == 422
    nobody = await client.post(url, json={"to": "agent", "agent_id": str(uuid.uuid4())})
    assert nobody.status_code == 422 and nobody.json()["detail"][0]["field"] == "agent_id"
    no_team = await client.post(url, json={"to": "team", "team": "nope"})
    assert no_team.status_code == 422 and no_team.json()["detail"][0]["field"] == "team"
    unknown = await client.post(f"/api/v1/journeys/{uuid.uuid4()}/transfer", json={"to": "bot"})
    assert unknown.status_code == 404
    await client.post(f"/api/v1/journeys/{journey_id}/resolve", json={})
    closed = await client.post(url, json={"to": "agent", "agent_id": str(agents["Ana"])})
    assert closed.status_code == 409 and closed.json()["error"] == "journey_closed"


async def test_bot_handoff_is_queued_with_a_decision(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    agents = await setup(routed_hub)
    journey_id = await post(client, "m1", "c1@example.com", CHEAP)
    await drain(routed_hub)
    assert (await journey_owner(routed_hub, journey_id))[0] == "bot"
    await presence(client, agents["Bo"], "online")
    await routed_hub.db.transaction(
        lambda s: change_owner(s, journey_id, JourneyOwner.QUEUE, reason="frustrated", actor="bot")
    )
    await drain(routed_hub)
    offer = await holder(routed_hub, journey_id)
    assert offer is not None and offer.agent_id == agents["Bo"]
    body = (await client.get(f"/api/v1/journeys/{journey_id}")).json()
    assert body["routing"]["decision"] == "agent"
    assert body["routing"]["reason"] == "handed_to_people"
    async with routed_hub.db.read() as session:
        triggers = (
            await session.scalars(
                select(RoutingDecision.trigger).where(RoutingDecision.journey_id == journey_id)
            )
        ).all()
    assert sorted(triggers) == ["handoff", "message"]
    await check_invariants(routed_hub)


async def test_resolving_frees_the_agent_and_reopening_prefers_them(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    agents = await setup(routed_hub)
    await presence(client, agents["Ana"], "online")
    await presence(client, agents["Bo"], "online")
    journey_id = await post(client, "m1", "c1@example.com", HUMAN)
    await drain(routed_hub)
    first = await _accepted(routed_hub, client, journey_id)
    assert (await client.post(f"/api/v1/journeys/{journey_id}/resolve", json={})).status_code == 200
    await drain(routed_hub)
    assert await holder(routed_hub, journey_id) is None
    await post(client, "m2", "c1@example.com", "I still need a person please, talk to a human")
    await drain(routed_hub)
    offer = await holder(routed_hub, journey_id)
    assert offer is not None and offer.agent_id == first
    async with routed_hub.db.read() as session:
        decision = await session.scalar(
            select(RoutingDecision)
            .where(RoutingDecision.journey_id == journey_id)
            .order_by(RoutingDecision.created_at.desc(), RoutingDecision.id.desc())
        )
    assert decision is not None and decision.trigger == "reopened"
    assert decision.inputs["continuity"] is True
    await check_invariants(routed_hub)


async def test_workspace_section_is_idempotent_and_validated(routed_hub: Hub) -> None:
    report = await apply_text(routed_hub, WORKSPACE)
    assert [(c.kind, c.action) for c in report.changes if c.kind == "routing"] == [
        ("routing", "created")
    ]
    again = await apply_text(routed_hub, WORKSPACE)
    assert [(c.kind, c.action) for c in again.changes if c.kind == "routing"] == [
        ("routing", "unchanged")
    ]
    changed = await apply_text(routed_hub, WORKSPACE.replace("threshold: 100", "threshold: 250"))
    routing = [c for c in changed.changes if c.kind == "routing"]
    assert routing[0].action == "updated" and routing[0].fields == ["threshold"]
    async with routed_hub.db.read() as session:
        ctx = await load_context(session)
    assert ctx.config.threshold == 250 and ctx.config.currency == "EUR"
    assert ctx.config.offer_timeout.total_seconds() == 30

    with pytest.raises(WorkspaceFileError) as bad:
        parse_workspace("routing:\n  policy: coin_flip\n", "bad.yaml")
    assert str(bad.value).startswith("bad.yaml:2: routing.policy: Input should be")
    with pytest.raises(WorkspaceFileError, match="must not be negative"):
        parse_workspace(
            "routing:\n  coefficients:\n    churn:\n      bias: -1\n"
            "      weights: {complaint: -2}\n",
            "bad.yaml",
        )
    with pytest.raises(WorkspaceFileError, match="in order"):
        parse_workspace(
            "routing:\n  relaxation:\n    - {after: 2m, level: 1}\n    - {after: 1m, level: 2}\n",
            "bad.yaml",
        )


def test_human_request_from_channel_controls() -> None:
    assert requests_human({"requests_human": True})
    assert requests_human({"human_request": 1})
    assert not requests_human({"requests_human": False})
    assert not requests_human(None)
