"""Escalation notices: the agents an escalation names find it in their inbox until they open
the journey or dismiss it, even when no console was open when it fired."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select
from tests.console.conftest import MakeAgent
from tests.console.support import csrf_of, sign_in
from tests.routing.helpers import setup
from tests.sla.helpers import HUMAN, WORKSPACE, drain, escalation_events, post

from relaydesk import clock
from relaydesk.hub import Hub
from relaydesk.sla.models import SlaNotice

TITLE = "SLA escalations for you"


async def _breach_two(
    hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> list[uuid.UUID]:
    journeys = [await post(client, f"n{i}", f"n{i}@example.com", HUMAN) for i in (1, 2)]
    await drain(hub)
    manual_clock.advance(timedelta(minutes=61))  # past the standard 1 h first response
    for _ in range(3):
        await drain(hub)
    return journeys


async def _open(hub: Hub, agent_id: uuid.UUID) -> list[SlaNotice]:
    async with hub.db.read() as session:
        rows = await session.scalars(
            select(SlaNotice).where(
                SlaNotice.agent_id == agent_id, SlaNotice.dismissed_at.is_(None)
            )
        )
        return list(rows.all())


async def test_a_breach_waits_in_the_supervisors_inbox_until_seen(
    routed_hub: Hub,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    make_agent: MakeAgent,
    manual_clock: clock.ManualClock,
) -> None:
    await setup(routed_hub, WORKSPACE)
    lead = await make_agent("lead@example.com", role="supervisor", name="Lead")
    first, second = await _breach_two(routed_hub, client, manual_clock)
    breach = [e for e in await escalation_events(routed_hub, first) if e["rule"] == "breach"]
    assert str(lead) in breach[0]["notified"]  # nobody was signed in when it fired
    assert len(await _open(routed_hub, lead)) == 2

    assert (await sign_in(browser, "lead@example.com")).status_code in (302, 303)
    inbox = await browser.get("/console")
    assert f"{TITLE} (2)" in inbox.text
    assert f'href="/console/journeys/{first}"' in inbox.text
    assert "first response (standard)" in inbox.text
    token = csrf_of(inbox.text)
    [notice] = [n for n in await _open(routed_hub, lead) if n.journey_id == second]

    forged = await browser.post(
        f"/console/notices/{notice.id}/dismiss", data={"csrf_token": "nope", "next": "/console"}
    )
    assert forged.status_code == 403 and len(await _open(routed_hub, lead)) == 2
    bad = await browser.post("/console/notices/not-an-id/dismiss", data={"csrf_token": token})
    assert bad.status_code == 404

    dismissed = await browser.post(
        f"/console/notices/{notice.id}/dismiss",
        data={"csrf_token": token, "next": "https://evil.example/"},
    )
    assert dismissed.status_code == 303 and dismissed.headers["location"] == "/console"
    assert [n.journey_id for n in await _open(routed_hub, lead)] == [first]
    assert f"{TITLE} (1)" in (await browser.get("/console")).text

    assert (await browser.get(f"/console/journeys/{first}")).status_code == 200  # seen
    assert await _open(routed_hub, lead) == []
    assert TITLE not in (await browser.get("/console")).text


async def test_dismiss_all_and_other_agents_notices_stay(
    routed_hub: Hub,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    make_agent: MakeAgent,
    manual_clock: clock.ManualClock,
) -> None:
    await setup(routed_hub, WORKSPACE)
    lead = await make_agent("lead@example.com", role="supervisor", name="Lead")
    other = await make_agent("other@example.com", role="supervisor", name="Other")
    await _breach_two(routed_hub, client, manual_clock)
    assert (await sign_in(browser, "lead@example.com")).status_code in (302, 303)
    token = csrf_of((await browser.get("/console")).text)
    done = await browser.post("/console/notices/dismiss", data={"csrf_token": token})
    assert done.status_code == 303
    assert await _open(routed_hub, lead) == []
    assert len(await _open(routed_hub, other)) == 2  # only the signed-in agent's own
    anonymous = httpx.AsyncClient(transport=browser._transport, base_url=str(browser.base_url))
    async with anonymous:
        refused = await anonymous.post("/console/notices/dismiss", data={"csrf_token": token})
    assert refused.status_code in (302, 303, 401)
    assert len(await _open(routed_hub, other)) == 2


async def test_a_resolved_journeys_notice_is_not_shown(
    routed_hub: Hub,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    make_agent: MakeAgent,
    manual_clock: clock.ManualClock,
) -> None:
    await setup(routed_hub, WORKSPACE)
    await make_agent("lead@example.com", role="supervisor", name="Lead")
    first, still_open = await _breach_two(routed_hub, client, manual_clock)
    resolved = await client.post(f"/api/v1/journeys/{first}/resolve", json={})
    assert resolved.status_code == 200
    assert (await sign_in(browser, "lead@example.com")).status_code in (302, 303)
    inbox = (await browser.get("/console")).text
    region = inbox.split('id="notices-region"')[1].split("</section>")[0]
    assert f"{TITLE} (1)" in region
    assert f"/console/journeys/{still_open}" in region
    assert f"/console/journeys/{first}" not in region
