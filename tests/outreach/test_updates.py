"""Proactive updates for journeys waiting on the company: cadence, the customer's language
and local daytime, skipped when a person wrote, stopped on resolution."""

from __future__ import annotations

from datetime import timedelta

import httpx
from tests.helpers.loopback import LoopbackProvider
from tests.outreach.helpers import drain, event_names, events_named, sent_texts, write_in

from relaydesk import clock
from relaydesk.hub import Hub


async def pending_journey(
    client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider, **patch: object
) -> str:
    accepted = await write_in(client, "My refund has not arrived")
    if patch:
        response = await client.patch(f"/api/v1/customers/{accepted['customer_id']}", json=patch)
        assert response.status_code == 200, response.text
    await drain(hub)
    provider.requests.clear()
    return str(accepted["journey_id"])


async def test_updates_follow_the_cadence_with_the_next_time_in_the_customers_words(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    journey = await pending_journey(
        client, outreach_hub, provider, locale="sv-SE", timezone="Europe/Stockholm"
    )
    response = await client.put(
        f"/api/v1/journeys/{journey}/next-update", json={"reason": "refund in progress"}
    )
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["status"] == "pending" and plan["interval_seconds"] == 86400
    assert (await client.get(f"/api/v1/journeys/{journey}")).json()["status"] == "pending"
    start_clock.advance(timedelta(hours=23))
    await drain(outreach_hub)
    assert sent_texts(provider) == []
    start_clock.advance(timedelta(hours=1))  # Tuesday 11:00 in Stockholm
    await drain(outreach_hub)
    assert sent_texts(provider) == [
        "Vi arbetar fortfarande med ditt ärende; nästa besked senast onsdag 11:00."
    ]
    start_clock.advance(timedelta(days=1))
    await drain(outreach_hub)
    assert sent_texts(provider)[-1].endswith("senast torsdag 11:00.")
    read = (await client.get(f"/api/v1/journeys/{journey}/next-update")).json()
    assert read["sent_count"] == 2 and read["last_result"] == "sent"
    names = await event_names(outreach_hub, journey)
    assert names.count("outreach.update_sent") == 2 and "outreach.update_planned" in names


async def test_an_agents_time_and_text_then_the_cadence_again(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    journey = await pending_journey(client, outreach_hub, provider)
    at = (clock.now() + timedelta(hours=3)).isoformat()
    text = "The courier picked up your phone; next update by {next_update}."
    response = await client.put(
        f"/api/v1/journeys/{journey}/next-update", json={"at": at, "text": text}
    )
    assert response.status_code == 200, response.text
    assert response.json()["text"] == text
    start_clock.advance(timedelta(hours=3))  # 14:00 Stockholm (workspace zone)
    await drain(outreach_hub)
    assert sent_texts(provider) == [
        "The courier picked up your phone; next update by Tuesday 14:00."
    ]
    start_clock.advance(timedelta(days=1))
    await drain(outreach_hub)
    assert sent_texts(provider)[-1] == "We're still on it; next update by Wednesday 14:00."


async def test_night_for_the_customer_waits_for_their_morning(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    journey = await pending_journey(client, outreach_hub, provider, timezone="Asia/Jakarta")
    at = (clock.now() + timedelta(hours=12)).isoformat()  # 22:00 UTC = 05:00 in Jakarta
    await client.put(f"/api/v1/journeys/{journey}/next-update", json={"at": at})
    start_clock.advance(timedelta(hours=12))
    await drain(outreach_hub)
    assert sent_texts(provider) == []  # the daytime starts at 08:00
    plan = (await client.get(f"/api/v1/journeys/{journey}/next-update")).json()
    assert plan["next_at"].startswith("2026-12-08T01:00:00")  # 08:00 in Jakarta, in UTC
    start_clock.advance(timedelta(hours=3))
    await drain(outreach_hub)
    assert sent_texts(provider) == ["We're still on it; next update by Wednesday 08:00."]


async def test_skipped_when_a_person_wrote_within_the_interval(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    journey = await pending_journey(client, outreach_hub, provider)
    await client.put(f"/api/v1/journeys/{journey}/next-update", json={})
    start_clock.advance(timedelta(hours=20))
    reply = await client.post(
        f"/api/v1/journeys/{journey}/messages", json={"text": "Still checking with the bank."}
    )
    assert reply.status_code == 202, reply.text
    start_clock.advance(timedelta(hours=4))
    await drain(outreach_hub)
    assert sent_texts(provider) == ["Still checking with the bank."]  # no update on top
    [skip] = await events_named(outreach_hub, "outreach.update_skipped")
    assert skip["reason"] == "person_wrote"
    start_clock.advance(timedelta(days=1))
    await drain(outreach_hub)
    assert sent_texts(provider)[-1].startswith("We're still on it")


async def test_opt_out_is_a_recorded_skip_and_resolution_stops_updates(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    accepted = await write_in(client, "Repair status?")
    await drain(outreach_hub)
    provider.requests.clear()
    journey = accepted["journey_id"]
    await client.put(f"/api/v1/journeys/{journey}/next-update", json={})
    await client.patch(
        f"/api/v1/customers/{accepted['customer_id']}", json={"consent": {"app": "revoked"}}
    )
    start_clock.advance(timedelta(days=1))
    await drain(outreach_hub)
    assert sent_texts(provider) == []
    [skip] = await events_named(outreach_hub, "outreach.update_skipped")
    assert skip["reason"] == "opted_out"
    resolved = await client.post(
        f"/api/v1/journeys/{journey}/resolve", json={"outcome": "duplicate"}
    )
    assert resolved.status_code == 200
    await drain(outreach_hub)
    start_clock.advance(timedelta(days=3))
    await drain(outreach_hub)
    assert len(await events_named(outreach_hub, "outreach.update_skipped")) == 1


async def test_intent_cadence_resume_and_bad_input(
    client: httpx.AsyncClient, outreach_hub: Hub, provider: LoopbackProvider
) -> None:
    accepted = await write_in(client, "Where is my refund?")
    journey = accepted["journey_id"]
    urgent = await client.post(
        "/api/v1/messages",
        json={
            "channel": "app",
            "external_id": "urgent-1",
            "text": "Please hurry",
            "sender": {"email": "kim@example.com", "handle": "kim-1"},
            "context": {"priority": "urgent"},
        },
    )
    assert urgent.status_code == 201
    plan = (await client.put(f"/api/v1/journeys/{journey}/next-update", json={})).json()
    assert plan["interval_seconds"] in (12 * 3600, 6 * 3600)  # the intent's, else priority's
    past = (clock.now() - timedelta(minutes=1)).isoformat()
    bad = await client.put(f"/api/v1/journeys/{journey}/next-update", json={"at": past})
    assert bad.status_code == 422 and "future" in bad.text
    naive = await client.put(
        f"/api/v1/journeys/{journey}/next-update", json={"at": "2030-01-01T10:00:00"}
    )
    assert naive.status_code == 422 and "at" in naive.text
    unknown = await client.put(
        "/api/v1/journeys/01a25037-aed1-72e2-8bd7-e89fcbaa0e8c/next-update", json={}
    )
    assert unknown.status_code == 404
    resumed = await client.delete(f"/api/v1/journeys/{journey}/next-update")
    assert resumed.status_code == 200 and resumed.json()["status"] == "open"
    again = await client.delete(f"/api/v1/journeys/{journey}/next-update")
    assert again.status_code == 409 and again.json()["error"] == "not_pending"
    await client.post(f"/api/v1/journeys/{journey}/resolve", json={"outcome": "duplicate"})
    refused = await client.put(f"/api/v1/journeys/{journey}/next-update", json={})
    assert refused.status_code == 409 and refused.json()["error"] == "not_active"


async def test_an_agents_own_update_is_not_skipped_for_what_they_wrote_before_planning_it(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    journey = await pending_journey(client, outreach_hub, provider)
    reply = await client.post(
        f"/api/v1/journeys/{journey}/messages", json={"text": "I'll ask the warehouse."}
    )
    assert reply.status_code == 202, reply.text
    start_clock.advance(timedelta(minutes=1))
    at = (clock.now() + timedelta(hours=3)).isoformat()  # sooner than the 1-day cadence
    text = "The warehouse is checking; next update by {next_update}."
    planned = await client.put(
        f"/api/v1/journeys/{journey}/next-update", json={"at": at, "text": text}
    )
    assert planned.status_code == 200, planned.text
    start_clock.advance(timedelta(hours=3))
    await drain(outreach_hub)
    assert sent_texts(provider)[-1] == "The warehouse is checking; next update by Tuesday 14:01."
    assert await events_named(outreach_hub, "outreach.update_skipped") == []
