"""Escalation details: timers fire once, the queue priority rises, breaches feed churn, the
API and the console show it all; bad requests get clear errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from tests.console.support import sign_in
from tests.helpers.workspace import apply_text
from tests.routing.helpers import setup
from tests.sla.helpers import (
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
from relaydesk.journeys.models import Journey
from relaydesk.routing.models import QueueEntryRow
from relaydesk.routing.queries import journey_snapshot, load_context
from relaydesk.routing.understanding import Understood
from relaydesk.sla.actions import SLA_BREACH, SLA_WARNING, timer_key
from relaydesk.timers import Timer

MONDAY_9 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def _timers(hub: Hub, key: str) -> list[str]:
    async with hub.db.read() as session:
        return list((await session.scalars(select(Timer.status).where(Timer.key == key))).all())


async def test_queued_journey_warns_once_raises_priority_and_breach_feeds_churn(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    await setup(routed_hub, WORKSPACE)  # nobody online: the journey waits in the queue
    journey_id = await post(client, "m1", "q1@example.com", HUMAN)
    await drain(routed_hub)
    assert await queue_due(routed_hub, journey_id) == MONDAY_9 + timedelta(hours=1)
    warn_key = timer_key(SLA_WARNING, "first_response", journey_id)
    breach_key = timer_key(SLA_BREACH, "first_response", journey_id)
    assert await _timers(routed_hub, warn_key) == ["pending"]

    manual_clock.advance(timedelta(minutes=45))
    for _ in range(3):
        await drain(routed_hub)
    assert await _timers(routed_hub, warn_key) == ["fired"]
    events = await escalation_events(routed_hub, journey_id)
    assert [e["rule"] for e in events] == ["warning"]
    assert events[0]["notified"] == []  # nobody holds it yet
    # raise_priority: the queue now ranks it as due (at the warning time, in the past)
    assert await queue_due(routed_hub, journey_id) == MONDAY_9 + timedelta(minutes=45)
    queue = (await client.get("/api/v1/queue")).json()
    assert queue["items"][0]["journey_id"] == str(journey_id)

    # A customer message recomputes the clocks but does not warn twice.
    await post(client, "m2", "q1@example.com", "Hello? Anyone there?")
    manual_clock.advance(timedelta(minutes=5))
    await drain(routed_hub)
    assert [e["rule"] for e in await escalation_events(routed_hub, journey_id)] == ["warning"]

    manual_clock.advance(timedelta(minutes=15))  # 10:05, past due
    for _ in range(3):
        await drain(routed_hub)
    assert await _timers(routed_hub, breach_key) == ["fired"]
    events = await escalation_events(routed_hub, journey_id)
    assert [e["rule"] for e in events] == ["warning", "breach"]
    assert events[1]["actions"] == ["reoffer", "notify_supervisor"]
    async with routed_hub.db.read() as session:
        journey = await session.get(Journey, journey_id)
        queued = await session.get(QueueEntryRow, journey_id)
        assert journey is not None and queued is not None  # still waiting for a person
        ctx = await load_context(session)
        snapshot = await journey_snapshot(session, journey, Understood(), ctx, clock.now(), queued)
    assert snapshot.signals.sla_breached  # a recent breach is a churn signal

    # A second journey of the same customer, much later, no longer counts it.
    manual_clock.advance(timedelta(days=40))
    async with routed_hub.db.read() as session:
        journey = await session.get(Journey, journey_id)
        assert journey is not None
        later = await journey_snapshot(session, journey, Understood(), ctx, clock.now(), None)
    assert not later.signals.sla_breached


async def test_reply_before_the_warning_cancels_the_timers(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    agents = await setup(routed_hub, WORKSPACE)
    journey_id = await post(client, "m1", "r1@example.com", HUMAN)
    await drain(routed_hub)
    manual_clock.advance(timedelta(minutes=10))
    reply = await client.post(
        f"/api/v1/journeys/{journey_id}/messages",
        json={"text": "On it", "author_type": "agent", "author_id": str(agents["Ana"])},
    )
    assert reply.status_code == 202, reply.text
    await drain(routed_hub)
    for kind in (SLA_WARNING, SLA_BREACH):
        assert await _timers(routed_hub, timer_key(kind, "first_response", journey_id)) == [
            "cancelled"
        ]
    manual_clock.advance(timedelta(hours=2))
    await drain(routed_hub)
    view = await sla(client, journey_id)
    assert clock_of(view, "first_response")["status"] == "met"
    assert view["escalations"] == []


async def test_channel_policy_and_no_policy(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    await setup(routed_hub, WORKSPACE)
    journey_id = await post(client, "e1", "mail@example.com", "Where is my parcel?", "mail")
    await drain(routed_hub)
    view = await sla(client, journey_id)
    assert view["policy"] == "email"
    assert [c["kind"] for c in view["clocks"]] == ["first_response"]
    first = clock_of(view, "first_response")  # the bot holds it: response clocks wait
    assert (first["status"], first["due_at"], first["remaining_seconds"]) == (
        "paused",
        None,
        8 * 3600.0,
    )

    # A section whose only policy matches nothing: the journey's clocks go at its next event.
    narrow = WORKSPACE.split("  policies:")[0] + (
        "  policies:\n    - name: vip\n      match: {tiers: [gold]}\n      resolution: 1h\n"
    )
    await apply_text(routed_hub, narrow)
    await post(client, "e2", "mail@example.com", "Any news?", "mail")
    await drain(routed_hub)
    body = (await client.get(f"/api/v1/journeys/{journey_id}")).json()
    assert body["sla"] is None


async def test_wait_errors(routed_hub: Hub, client: httpx.AsyncClient) -> None:
    await setup(routed_hub, WORKSPACE)
    journey_id = await post(client, "w1", "w@example.com", HUMAN)
    missing = await client.post(f"/api/v1/journeys/{uuid.uuid4()}/wait")
    assert missing.status_code == 404 and missing.json()["error"] == "journey_not_found"
    assert (await client.post(f"/api/v1/journeys/{journey_id}/wait")).status_code == 200
    twice = await client.post(f"/api/v1/journeys/{journey_id}/wait")
    assert twice.status_code == 409 and twice.json()["error"] == "invalid_transition"
    assert (await client.post(f"/api/v1/journeys/{journey_id}/resolve", json={})).status_code == 200
    closed = await client.post(f"/api/v1/journeys/{journey_id}/wait")
    assert closed.status_code == 409
    anonymous = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with anonymous:
        assert (await anonymous.post(f"/api/v1/journeys/{journey_id}/wait")).status_code == 401


async def test_console_journey_view_shows_clocks_and_escalations(
    routed_hub: Hub,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    make_agent: object,
    manual_clock: clock.ManualClock,
) -> None:
    await setup(routed_hub, WORKSPACE)
    journey_id = await post(client, "v1", "v@example.com", HUMAN)
    await drain(routed_hub)
    manual_clock.advance(timedelta(minutes=46))
    await drain(routed_hub)
    await make_agent("lead@example.com", role="supervisor", name="Lead")  # type: ignore[operator]
    assert (await sign_in(browser, "lead@example.com")).status_code in (302, 303)
    page = await browser.get(f"/console/journeys/{journey_id}")
    assert page.status_code == 200
    assert "SLA: standard" in page.text
    assert "First response</dt>" in page.text
    assert "first response warning: raise priority, notify assignee" in page.text


async def test_timer_of_a_changed_policy_replans_instead_of_escalating(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    await setup(routed_hub, WORKSPACE)
    journey_id = await post(client, "p1", "p@example.com", HUMAN)
    await drain(routed_hub)
    # A longer target, applied without any event on the journey: its timers still say 09:45.
    await apply_text(routed_hub, WORKSPACE.replace("first_response: 1h", "first_response: 2h"))
    manual_clock.advance(timedelta(minutes=46))
    await drain(routed_hub)
    assert await escalation_events(routed_hub, journey_id) == []
    key = timer_key(SLA_WARNING, "first_response", journey_id)
    async with routed_hub.db.read() as session:
        pending = await session.scalar(
            select(Timer.due_at).where(Timer.key == key, Timer.status == "pending")
        )
    assert pending == MONDAY_9 + timedelta(minutes=90)  # 75% of the new 2 h
    manual_clock.advance(timedelta(minutes=45))
    await drain(routed_hub)
    events = await escalation_events(routed_hub, journey_id)
    assert [(e["clock"], e["rule"]) for e in events] == [("first_response", "warning")]
    view = await sla(client, journey_id)
    assert clock_of(view, "first_response")["due_at"] == "2026-01-05T11:00:00Z"
