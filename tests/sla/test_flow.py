"""Clocks on live journeys: set by policy, recomputed on events, escalated by timers once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from tests.routing.helpers import holder, presence, setup
from tests.sla.helpers import (
    COMPLAINT,
    HUMAN,
    WORKSPACE,
    clock_of,
    drain,
    escalation_events,
    post,
    queue_due,
    sla,
)

from relaydesk import clock
from relaydesk.hub import Hub
from relaydesk.routing.models import QueueEntryRow

MONDAY_9 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def test_clocks_follow_replies_waiting_and_resolution(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    agents = await setup(routed_hub, WORKSPACE)
    await presence(client, agents["Ana"], "online")
    journey_id = await post(client, "m1", "c1@example.com", HUMAN)
    await drain(routed_hub)
    view = await sla(client, journey_id)
    assert view["policy"] == "standard"
    first = clock_of(view, "first_response")
    assert first["status"] == "due" and first["calendar"] == "office"
    assert first["due_at"] == "2026-01-05T10:00:00Z"
    assert clock_of(view, "resolution")["due_at"] == "2026-01-06T17:00:00Z"  # 16 business hours
    assert [c["kind"] for c in view["clocks"]] == ["first_response", "resolution"]
    assert await queue_due(routed_hub, journey_id) is not None

    offer = await holder(routed_hub, journey_id)
    assert offer is not None
    assert (await client.post(f"/api/v1/offers/{offer.id}/accept")).status_code == 200
    manual_clock.advance(timedelta(minutes=20))
    reply = await client.post(
        f"/api/v1/journeys/{journey_id}/messages",
        json={
            "text": "Hello, how can I help?",
            "author_type": "agent",
            "author_id": str(agents["Ana"]),
        },
    )
    assert reply.status_code in (200, 201, 202), reply.text
    await drain(routed_hub)
    view = await sla(client, journey_id)
    first = clock_of(view, "first_response")
    assert first["status"] == "met" and first["met_at"] == "2026-01-05T09:20:00Z"

    manual_clock.advance(timedelta(minutes=10))
    await post(client, "m2", "c1@example.com", "It is about my order")
    await drain(routed_hub)
    nxt = clock_of(await sla(client, journey_id), "next_response")
    assert nxt["status"] == "due" and nxt["due_at"] == "2026-01-05T11:30:00Z"

    # Waiting on the customer pauses every clock, with the business time left.
    manual_clock.advance(timedelta(minutes=30))  # 10:00
    waited = await client.post(f"/api/v1/journeys/{journey_id}/wait")
    assert waited.status_code == 200, waited.text
    await drain(routed_hub)
    view = await sla(client, journey_id)
    nxt = clock_of(view, "next_response")
    assert nxt["status"] == "paused" and nxt["due_at"] is None
    assert nxt["remaining_seconds"] == 5400.0
    assert clock_of(view, "resolution")["remaining_seconds"] == 15 * 3600.0
    manual_clock.advance(timedelta(hours=8))  # 18:00: after hours, nothing may escalate
    await drain(routed_hub)
    assert await escalation_events(routed_hub, journey_id) == []

    manual_clock.set(datetime(2026, 1, 6, 8, 0, tzinfo=UTC))  # Tuesday, before opening
    await post(client, "m3", "c1@example.com", "Here is the photo you asked for")
    await drain(routed_hub)
    view = await sla(client, journey_id)
    # next response: the cycle continues (the customer wrote again before any reply)
    nxt = clock_of(view, "next_response")
    assert nxt["status"] == "due"
    # 1.5 h were left at 10:00 Monday; the pause ended Tuesday 08:00, office opens 09:00
    assert nxt["due_at"] == "2026-01-06T10:30:00Z"
    assert clock_of(view, "resolution")["due_at"] == "2026-01-07T16:00:00Z"  # 15 h left

    resolved = await client.post(f"/api/v1/journeys/{journey_id}/resolve", json={})
    assert resolved.status_code == 200
    await drain(routed_hub)
    view = await sla(client, journey_id)
    assert {c["kind"]: c["status"] for c in view["clocks"]} == {
        "first_response": "met",
        "next_response": "met",
        "resolution": "met",
    }


async def test_warning_then_breach_escalate_once(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    agents = await setup(routed_hub, WORKSPACE)
    await presence(client, agents["Ana"], "online")
    journey_id = await post(client, "m1", "c2@example.com", HUMAN)
    await drain(routed_hub)
    offer = await holder(routed_hub, journey_id)
    assert offer is not None and offer.agent_id == agents["Ana"]
    assert (await client.post(f"/api/v1/offers/{offer.id}/accept")).status_code == 200
    await drain(routed_hub)

    manual_clock.advance(timedelta(minutes=44))
    await drain(routed_hub)
    assert await escalation_events(routed_hub, journey_id) == []
    manual_clock.advance(timedelta(minutes=1))  # 75% of 1 h
    await drain(routed_hub)
    await drain(routed_hub)
    events = await escalation_events(routed_hub, journey_id)
    assert [(e["clock"], e["rule"]) for e in events] == [("first_response", "warning")]
    assert events[0]["actions"] == ["raise_priority", "notify_assignee"]
    assert events[0]["notified"] == [str(agents["Ana"])]

    await presence(client, agents["Bo"], "online")
    manual_clock.advance(timedelta(minutes=15))  # due
    await drain(routed_hub)
    manual_clock.advance(timedelta(minutes=30))
    await drain(routed_hub)
    events = await escalation_events(routed_hub, journey_id)
    assert [(e["clock"], e["rule"]) for e in events] == [
        ("first_response", "warning"),
        ("first_response", "breach"),
    ]
    assert events[1]["notified"] == [str(agents["Sue"])]  # the support team's supervisor
    # re-offered to another agent: Ana is excluded, Bo gets the offer
    again = await holder(routed_hub, journey_id)
    assert again is not None and again.agent_id == agents["Bo"]
    view = await sla(client, journey_id)
    assert clock_of(view, "first_response")["status"] == "breached"
    assert clock_of(view, "first_response")["breached_at"] == "2026-01-05T10:00:00Z"
    assert [(e["rule"], e["policy"]) for e in view["escalations"]] == [
        ("warning", "standard"),
        ("breach", "standard"),
    ]
    assert await queue_due(routed_hub, journey_id) is not None


async def test_complaint_gets_short_targets_and_escalates_to_its_team(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    agents = await setup(routed_hub, WORKSPACE)
    await presence(client, agents["Ana"], "online")
    journey_id = await post(client, "m1", "c3@example.com", COMPLAINT)
    await drain(routed_hub)
    view = await sla(client, journey_id)
    assert view["policy"] == "complaints"
    assert clock_of(view, "first_response")["due_at"] == iso(MONDAY_9 + timedelta(minutes=30))
    manual_clock.advance(timedelta(minutes=31))
    await drain(routed_hub)
    events = await escalation_events(routed_hub, journey_id)
    # the warning (at 15 min) and the breach passed together: only the breach escalates
    assert [(e["rule"], e.get("team")) for e in events] == [("breach", "complaints")]
    view = await sla(client, journey_id)
    assert view["escalations"][0]["team"] == "complaints"
    assert view["escalations"][0]["actions"] == ["reoffer", "notify_supervisor"]
    async with routed_hub.db.read() as session:
        queued = await session.get(QueueEntryRow, journey_id)
    assert queued is not None and queued.team == "complaints"  # Ana is not in that team
    assert await holder(routed_hub, journey_id) is None
    await presence(client, agents["Bo"], "online")
    await drain(routed_hub)
    offer = await holder(routed_hub, journey_id)
    assert offer is not None and offer.agent_id == agents["Bo"]


async def test_waiting_on_the_company_after_waiting_on_the_customer_runs_the_clocks_again(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    await setup(routed_hub, WORKSPACE)
    journey_id = await post(client, "m1", "p1@example.com", HUMAN)
    await drain(routed_hub)
    manual_clock.advance(timedelta(minutes=10))
    assert (await client.post(f"/api/v1/journeys/{journey_id}/wait")).status_code == 200
    await drain(routed_hub)
    assert clock_of(await sla(client, journey_id), "resolution")["status"] == "paused"
    manual_clock.advance(timedelta(hours=1))  # 10:10: the company takes it up (a repair)
    pending = await client.put(f"/api/v1/journeys/{journey_id}/next-update", json={})
    assert pending.status_code == 200 and pending.json()["status"] == "pending", pending.text
    await drain(routed_hub)
    resolution = clock_of(await sla(client, journey_id), "resolution")
    assert resolution["status"] == "due", resolution  # the company owes the next step
    assert resolution["due_at"] == "2026-01-07T10:00:00Z"  # 16 business hours + 1 h paused


async def test_a_new_tier_chooses_the_policy_of_the_open_journey_at_once(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    """The tier is the customer's, not the journey's: changing it recomputes the clocks of
    the customer's open journeys without waiting for their next message."""
    gold = "    - name: gold\n      match: {tiers: [gold]}\n      first_response: 15m\n"
    await setup(
        routed_hub, WORKSPACE.replace("    - name: standard\n", gold + "    - name: standard\n")
    )
    journey_id = await post(client, "m1", "vip@example.com", HUMAN)
    await drain(routed_hub)
    assert (await sla(client, journey_id))["policy"] == "standard"

    customer_id = (await client.get(f"/api/v1/journeys/{journey_id}")).json()["customer_id"]
    patched = await client.patch(f"/api/v1/customers/{customer_id}", json={"tier": "Gold"})
    assert patched.status_code == 200, patched.text
    await drain(routed_hub)
    view = await sla(client, journey_id)
    assert view["policy"] == "gold"
    assert clock_of(view, "first_response")["due_at"] == "2026-01-05T09:15:00Z"

    renamed = await client.patch(f"/api/v1/customers/{customer_id}", json={"name": "Vera"})
    assert renamed.status_code == 200, renamed.text
    await drain(routed_hub)
    assert (await sla(client, journey_id))["policy"] == "gold"
