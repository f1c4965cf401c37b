"""The live flow: first message → decision → bot, queue or offer → accept/decline/timeout."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from tests.routing.helpers import (
    CHEAP,
    COMPLAINT,
    HUMAN,
    check_invariants,
    drain,
    holder,
    journey_owner,
    post,
    presence,
    setup,
)

from relaydesk import clock
from relaydesk.agents.models import Agent
from relaydesk.customers.models import Customer
from relaydesk.hub import Hub
from relaydesk.journeys.models import Journey
from relaydesk.routing.models import AgentLoad, Assignment, RoutingDecision


async def test_cheap_bot_work_goes_to_the_bot_and_says_why(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    await setup(routed_hub)
    journey_id = await post(client, "m1", "c1@example.com", CHEAP)
    await drain(routed_hub)
    assert (await journey_owner(routed_hub, journey_id))[0] == "bot"
    body = (await client.get(f"/api/v1/journeys/{journey_id}")).json()
    routing = body["routing"]
    assert routing["decision"] == "bot"
    assert (routing["policy"], routing["reason"], routing["currency"]) == (
        "value",
        "bot_resolvable",
        "EUR",
    )
    assert routing["explanation"].startswith("value ")
    assert "< threshold 100 EUR; the bot resolves order status" in routing["explanation"]
    assert routing["inputs"]["intent"] == "order_status"
    assert routing["inputs"]["channel_class"] == "messaging"
    await check_invariants(routed_hub)


async def test_human_request_is_offered_and_accepted(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    agents = await setup(routed_hub)
    await presence(client, agents["Ana"], "online")
    journey_id = await post(client, "m1", "c1@example.com", HUMAN)
    await drain(routed_hub)
    assert await journey_owner(routed_hub, journey_id) == ("queue", None)
    offer = await holder(routed_hub, journey_id)
    assert offer is not None and offer.status == "offered" and offer.agent_id == agents["Ana"]
    assert offer.expires_at == manual_clock.now() + timedelta(seconds=30)
    queue = (await client.get("/api/v1/queue")).json()
    assert queue["online_agents"] == 1 and queue["currency"] == "EUR"
    assert [(i["journey_id"], i["position"], i["offered_to"]) for i in queue["items"]] == [
        (str(journey_id), 1, str(agents["Ana"]))
    ]
    body = (await client.get(f"/api/v1/journeys/{journey_id}")).json()
    assert body["routing"]["decision"] == "agent"
    assert body["routing"]["reason"] == "human_request"
    assert body["routing"]["agent_id"] == str(agents["Ana"])

    accepted = await client.post(f"/api/v1/offers/{offer.id}/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert await journey_owner(routed_hub, journey_id) == ("agent", agents["Ana"])
    assert (await client.get("/api/v1/queue")).json()["items"] == []
    async with routed_hub.db.read() as session:
        load = await session.get(AgentLoad, agents["Ana"])
    assert load is not None and abs(load.load - 0.5) < 1e-9  # messaging capacity 2
    again = await client.post(f"/api/v1/offers/{offer.id}/accept")
    assert again.status_code == 409
    assert again.json()["error"] == "offer_closed"
    missing = await client.post(f"/api/v1/offers/{uuid.uuid4()}/decline")
    assert missing.status_code == 404 and missing.json()["error"] == "offer_not_found"
    await drain(routed_hub)
    await check_invariants(routed_hub)


async def test_decline_goes_to_the_next_best_then_waits(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    agents = await setup(routed_hub)
    await presence(client, agents["Ana"], "online")
    await presence(client, agents["Bo"], "online")
    journey_id = await post(client, "m1", "c1@example.com", HUMAN)
    await drain(routed_hub)
    first = await holder(routed_hub, journey_id)
    assert first is not None
    declined = await client.post(f"/api/v1/offers/{first.id}/decline")
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    second = await holder(routed_hub, journey_id)
    assert second is not None and second.agent_id != first.agent_id
    assert (await client.post(f"/api/v1/offers/{second.id}/decline")).status_code == 200
    assert await holder(routed_hub, journey_id) is None
    assert await journey_owner(routed_hub, journey_id) == ("queue", None)
    queue = (await client.get("/api/v1/queue")).json()
    assert queue["items"][0]["offered_to"] is None
    assert queue["items"][0]["estimated_wait_seconds"] == 180.0  # 6 min / 2 agents online
    async with routed_hub.db.read() as session:
        triggers = (
            await session.scalars(
                select(RoutingDecision.trigger)
                .where(RoutingDecision.journey_id == journey_id)
                .order_by(RoutingDecision.created_at, RoutingDecision.id)
            )
        ).all()
    assert list(triggers) == ["message", "declined", "declined"]  # the last: back to the queue
    await drain(routed_hub)
    await check_invariants(routed_hub)


async def test_missed_offers_time_out_and_set_the_agent_away(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    agents = await setup(routed_hub)
    await presence(client, agents["Bo"], "online")
    first = await post(client, "m1", "c1@example.com", HUMAN)
    await drain(routed_hub)
    offer = await holder(routed_hub, first)
    assert offer is not None and offer.agent_id == agents["Bo"]
    manual_clock.advance(timedelta(seconds=29))
    await drain(routed_hub)
    assert (await holder(routed_hub, first)) is not None  # not yet
    manual_clock.advance(timedelta(seconds=2))
    await drain(routed_hub)
    assert await holder(routed_hub, first) is None
    late = await client.post(f"/api/v1/offers/{offer.id}/accept")
    assert late.status_code == 409 and late.json()["offer_status"] == "expired"
    async with routed_hub.db.read() as session:
        load = await session.get(AgentLoad, agents["Bo"])
        bo = await session.get(Agent, agents["Bo"])
    assert load is not None and load.misses == 1 and bo is not None and bo.presence == "online"

    second = await post(client, "m2", "c2@example.com", HUMAN)
    await drain(routed_hub)
    assert (await holder(routed_hub, second)) is not None
    manual_clock.advance(timedelta(seconds=31))
    await drain(routed_hub)
    async with routed_hub.db.read() as session:
        bo = await session.get(Agent, agents["Bo"], populate_existing=True)
    assert bo is not None and bo.presence == "away"  # two misses in a row
    await check_invariants(routed_hub)

    # Back online: the waiting journeys are offered again (the one Bo missed stays excluded).
    await presence(client, agents["Ana"], "online")
    await drain(routed_hub)
    offered = {await holder(routed_hub, j) for j in (first, second)}
    assert {o.agent_id for o in offered if o is not None} == {agents["Ana"]}
    await check_invariants(routed_hub)


async def test_a_decline_breaks_the_row_of_missed_offers(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    """Misses count "in a row": an answered offer (a decline, like an accept) resets them."""
    agents = await setup(routed_hub)
    await presence(client, agents["Bo"], "online")
    first = await post(client, "m1", "c1@example.com", HUMAN)
    await drain(routed_hub)
    assert (await holder(routed_hub, first)) is not None
    manual_clock.advance(timedelta(seconds=31))
    await drain(routed_hub)  # miss 1
    second = await post(client, "m2", "c2@example.com", HUMAN)
    await drain(routed_hub)
    offer = await holder(routed_hub, second)
    assert offer is not None and offer.agent_id == agents["Bo"]
    assert (await client.post(f"/api/v1/offers/{offer.id}/decline")).status_code == 200
    third = await post(client, "m3", "c3@example.com", HUMAN)
    await drain(routed_hub)
    assert (await holder(routed_hub, third)) is not None
    manual_clock.advance(timedelta(seconds=31))
    await drain(routed_hub)  # a miss again, but not two in a row
    async with routed_hub.db.read() as session:
        load = await session.get(AgentLoad, agents["Bo"])
        bo = await session.get(Agent, agents["Bo"])
    assert load is not None and load.misses == 1
    assert bo is not None and bo.presence == "online"


async def test_capacity_is_never_exceeded_and_the_queue_moves_on_resolve(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    agents = await setup(routed_hub)
    await presence(client, agents["Ana"], "online")
    journeys = [await post(client, f"m{i}", f"c{i}@example.com", HUMAN) for i in range(3)]
    await drain(routed_hub)
    for journey_id in journeys:
        offer = await holder(routed_hub, journey_id)
        if offer is not None:
            assert (await client.post(f"/api/v1/offers/{offer.id}/accept")).status_code == 200
    owners = [await journey_owner(routed_hub, j) for j in journeys]
    assert owners.count(("agent", agents["Ana"])) == 2 and owners.count(("queue", None)) == 1
    await check_invariants(routed_hub)
    waiting = journeys[owners.index(("queue", None))]
    done = journeys[owners.index(("agent", agents["Ana"]))]
    resolved = await client.post(f"/api/v1/journeys/{done}/resolve", json={})
    assert resolved.status_code == 200, resolved.text
    await drain(routed_hub)
    offer = await holder(routed_hub, waiting)
    assert offer is not None and offer.agent_id == agents["Ana"]
    await check_invariants(routed_hub)


async def test_valuable_complaint_goes_to_the_expert(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    agents = await setup(routed_hub)
    await presence(client, agents["Ana"], "online")
    await presence(client, agents["Bo"], "online")
    journey_id = await post(client, "m1", "vip@example.com", COMPLAINT)
    async with routed_hub.db.read() as session:
        customer_id = await session.scalar(
            select(Journey.customer_id).where(Journey.id == journey_id)
        )
    await routed_hub.db.transaction(
        lambda s: s.execute(
            update(Customer).where(Customer.id == customer_id).values(lifetime_value=3600)
        )
    )
    await drain(routed_hub)
    offer = await holder(routed_hub, journey_id)
    assert offer is not None and offer.agent_id == agents["Ana"]  # complaint level 3
    async with routed_hub.db.read() as session:
        decision = await session.scalar(
            select(RoutingDecision).where(RoutingDecision.journey_id == journey_id)
        )
    assert decision is not None and decision.reason == "value_above_threshold"
    assert "annual value 1,200 EUR (negative sentiment, complaint)" in decision.explanation
    assert decision.inputs["requirement"]["skill"] == "complaint"


async def test_presence_bad_input_and_unknown_agent(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    agents = await setup(routed_hub)
    bad = await client.put(f"/api/v1/agents/{agents['Ana']}/presence", json={"presence": "busy"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "presence"
    extra = await client.put(
        f"/api/v1/agents/{agents['Ana']}/presence", json={"presence": "online", "x": 1}
    )
    assert extra.status_code == 422
    unknown = await client.put(f"/api/v1/agents/{uuid.uuid4()}/presence", json={"presence": "away"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "agent_not_found"
    ok = await client.put(f"/api/v1/agents/{agents['Ana']}/presence", json={"presence": "online"})
    assert ok.json() == {
        "agent_id": str(agents["Ana"]),
        "presence": "online",
        "load": 0.0,
        "requeued": 0,
    }


async def test_going_away_withdraws_pending_offers(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    agents = await setup(routed_hub)
    await presence(client, agents["Ana"], "online")
    journey_id = await post(client, "m1", "c1@example.com", HUMAN)
    await drain(routed_hub)
    offer = await holder(routed_hub, journey_id)
    assert offer is not None and offer.agent_id == agents["Ana"]
    await presence(client, agents["Bo"], "online")
    away = await client.put(f"/api/v1/agents/{agents['Ana']}/presence", json={"presence": "away"})
    assert away.json()["requeued"] == 1
    moved = await holder(routed_hub, journey_id)
    assert moved is not None and moved.agent_id == agents["Bo"]
    async with routed_hub.db.read() as session:
        old = await session.get(Assignment, offer.id)
    assert old is not None and old.status == "withdrawn"
    await drain(routed_hub)
    await check_invariants(routed_hub)


RELAXING = """
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
routing:
  policy: human_first
  intents:
    complaint: {skill: complaint, level: 3}
  relaxation:
    - {after: 60s, level: 2}
    - {after: 120s, level: 1}
"""


async def test_required_skills_relax_on_their_own_as_the_journey_waits(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    """No event moves the queue (nobody comes online or frees up): the relaxation timers do."""
    agents = await setup(routed_hub, RELAXING)
    await presence(client, agents["Cy"], "online")
    journey_id = await post(client, "m1", "c1@example.com", COMPLAINT)
    await drain(routed_hub)
    assert await holder(routed_hub, journey_id) is None  # Cy's level 1 is not level 3
    manual_clock.advance(timedelta(seconds=61))
    await drain(routed_hub)
    assert await holder(routed_hub, journey_id) is None  # level 2 is not enough either
    manual_clock.advance(timedelta(seconds=60))
    await drain(routed_hub)
    offer = await holder(routed_hub, journey_id)
    assert offer is not None and offer.agent_id == agents["Cy"]
    async with routed_hub.db.read() as session:
        decision = await session.scalar(
            select(RoutingDecision)
            .where(RoutingDecision.journey_id == journey_id)
            .order_by(RoutingDecision.created_at.desc(), RoutingDecision.id.desc())
            .limit(1)
        )
    assert decision is not None and decision.trigger == "relaxed"
    assert decision.inputs["requirement"] == {"language": "en", "skill": "complaint", "level": 1}
    await check_invariants(routed_hub)


async def test_a_relaxation_timer_for_a_journey_no_longer_waiting_does_nothing(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    agents = await setup(routed_hub, RELAXING)
    journey_id = await post(client, "m1", "c1@example.com", COMPLAINT)
    await drain(routed_hub)
    resolved = await client.post(f"/api/v1/journeys/{journey_id}/resolve", json={})
    assert resolved.status_code == 200, resolved.text
    await drain(routed_hub)
    await presence(client, agents["Cy"], "online")
    manual_clock.advance(timedelta(seconds=121))
    await drain(routed_hub)
    assert await holder(routed_hub, journey_id) is None
    async with routed_hub.db.read() as session:
        triggers = (
            await session.scalars(
                select(RoutingDecision.trigger).where(RoutingDecision.journey_id == journey_id)
            )
        ).all()
    assert "relaxed" not in triggers
    await check_invariants(routed_hub)


async def test_a_declined_offer_frees_the_agent_for_the_next_waiting_journey(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    """Bo is full with one offer while another journey waits; declining it frees Bo, and the
    queue offers Bo the other journey at once (the declined one may not go back to Bo)."""
    agents = await setup(routed_hub)
    await presence(client, agents["Bo"], "online")
    first = await post(client, "m1", "c1@example.com", HUMAN)
    await drain(routed_hub)
    second = await post(client, "m2", "c2@example.com", HUMAN)
    await drain(routed_hub)
    offer = await holder(routed_hub, first)
    assert offer is not None and offer.agent_id == agents["Bo"]
    assert await holder(routed_hub, second) is None  # Bo has no room left
    declined = await client.post(f"/api/v1/offers/{offer.id}/decline")
    assert declined.status_code == 200
    await drain(routed_hub)
    assert await holder(routed_hub, first) is None
    moved = await holder(routed_hub, second)
    assert moved is not None and moved.agent_id == agents["Bo"]
    view = (await client.get(f"/api/v1/journeys/{first}")).json()
    assert view["routing"]["decision"] == "queue"  # no longer says "Bo", who declined
    assert view["routing"]["agent_id"] is None
    await check_invariants(routed_hub)
