"""The supervisor's live queues page: who waits (value, SLA risk, estimated wait), agents'
occupancy, reassign with a click; agents get the 403 page."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.console.conftest import MakeAgent
from tests.console.support import csrf_of, sign_in

from relaydesk import clock
from relaydesk.agents.models import Agent
from relaydesk.audit.models import AuditEntry
from relaydesk.console.floor import sla_risk
from relaydesk.customers.models import Customer
from relaydesk.hub import Hub
from relaydesk.journeys.actions import change_owner
from relaydesk.journeys.models import Journey
from relaydesk.journeys.states import JourneyOwner
from relaydesk.routing.models import QueueEntryRow, RoutingDecision


@pytest.fixture
async def floor_scene(hub: Hub, seeded: None, make_agent: MakeAgent) -> dict[str, Any]:
    """Budi waits (value 900, SLA due in 5 min), Anna waits (value 20, no SLA); Alice is
    online with room for chat, Sam supervises."""
    alice = await make_agent("alice@example.com", name="Alice Agent")
    sam = await make_agent("sam@example.com", name="Sam Supervisor", role="supervisor")
    async with hub.db.read() as session:
        rows = (
            await session.execute(
                select(Journey.id, Customer.name)
                .join(Customer, Customer.id == Journey.customer_id)
                .where(Journey.status == "open")
            )
        ).all()
    journeys = {name.split()[0]: jid for jid, name in rows}
    now = clock.now()

    async def arrange(session: AsyncSession) -> None:
        agent = await session.get(Agent, alice)
        assert agent is not None
        agent.presence = "online"
        agent.capacity = {"voice": 1, "chat": 3, "messaging": 4, "email": 5}
        for name, value, due in (("Budi", 900.0, now + timedelta(minutes=5)), ("Anna", 20.0, None)):
            await change_owner(session, journeys[name], JourneyOwner.QUEUE, reason="t", actor="t")
            session.add(
                QueueEntryRow(
                    journey_id=journeys[name],
                    enqueued_at=now - timedelta(minutes=3),
                    value=value,
                    team=None,
                    sla_due_at=due,
                    reason="human_request",
                    updated_at=now,
                )
            )

    await hub.db.transaction(arrange)
    return {"alice": alice, "sam": sam, "journeys": journeys}


def waiting_ids(html: str) -> list[str]:
    region = html.split('id="waiting-title"')[1].split('id="agents-title"')[0]
    return re.findall(r'<tr data-journey-id="([^"]+)"', region)


async def test_agents_get_the_403_page(
    browser: httpx.AsyncClient, floor_scene: dict[str, Any]
) -> None:
    await sign_in(browser, "alice@example.com")
    page = await browser.get("/console/supervisor")
    assert page.status_code == 403
    assert "text/html" in page.headers["content-type"]
    assert "needs the <strong>supervisor or admin</strong> role" in page.text
    # the form is refused too, and nothing moves
    inbox = await browser.get("/console")
    budi = floor_scene["journeys"]["Budi"]
    posted = await browser.post(
        f"/console/supervisor/journeys/{budi}/reassign",
        data={"csrf_token": csrf_of(inbox.text), "target": f"agent:{floor_scene['alice']}"},
    )
    assert posted.status_code == 403
    assert "Live queues" not in inbox.text  # no link for agents


async def test_anonymous_visit_is_sent_to_sign_in(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/console/supervisor")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/console/login?next=%2Fconsole%2Fsupervisor")


async def test_queue_by_value_sla_risk_and_occupancy(
    browser: httpx.AsyncClient, floor_scene: dict[str, Any]
) -> None:
    await sign_in(browser, "sam@example.com")
    page = await browser.get("/console/supervisor")
    assert page.status_code == 200
    budi, anna = (str(floor_scene["journeys"][n]) for n in ("Budi", "Anna"))
    assert set(waiting_ids(page.text)) == {budi, anna}
    assert "<strong>2</strong> waiting" in page.text
    assert "<strong>1</strong> at SLA risk" in page.text
    assert "at risk" in page.text and "no SLA" in page.text
    assert "900.00" in page.text
    # one agent online: routing's estimate is a figure, not "nobody online"
    assert "nobody online" not in page.text
    assert re.search(
        r"Alice Agent <span class=\"role\">agent</span></td>\s*"
        r"<td><span class=\"presence-online\">online",
        page.text,
    )
    by_value = await browser.get("/console/supervisor", params={"sort": "value"})
    assert waiting_ids(by_value.text) == [budi, anna]
    by_sla = await browser.get("/console/supervisor", params={"sort": "sla"})
    assert waiting_ids(by_sla.text) == [budi, anna]
    odd = await browser.get("/console/supervisor", params={"sort": "<script>"})
    assert odd.status_code == 200 and "<script>" not in odd.text.split("<main")[1]


async def test_reassign_to_an_agent_is_audited(
    hub: Hub, browser: httpx.AsyncClient, floor_scene: dict[str, Any]
) -> None:
    await sign_in(browser, "sam@example.com")
    page = await browser.get("/console/supervisor")
    budi = floor_scene["journeys"]["Budi"]
    posted = await browser.post(
        f"/console/supervisor/journeys/{budi}/reassign",
        data={"csrf_token": csrf_of(page.text), "target": f"agent:{floor_scene['alice']}"},
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == "/console/supervisor?done=reassigned"
    async with hub.db.read() as session:
        journey = await session.get(Journey, budi)
        assert journey is not None
        assert (journey.owner_type, journey.owner_agent_id) == ("agent", floor_scene["alice"])
        assert await session.get(QueueEntryRow, budi) is None
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.target == str(budi)))
    assert entry is not None and entry.action == "journey.reassigned"
    assert entry.actor == f"agent:{floor_scene['sam']}" and entry.actor_name == "Sam Supervisor"
    after = await browser.get("/console/supervisor?done=reassigned")
    assert "Reassigned." in after.text
    assert str(budi) not in waiting_ids(after.text)


async def test_reassign_refusals_say_why(
    hub: Hub, browser: httpx.AsyncClient, floor_scene: dict[str, Any], make_agent: MakeAgent
) -> None:
    offline = await make_agent("olle@example.com", name="Olle Offline")
    await sign_in(browser, "sam@example.com")
    token = csrf_of((await browser.get("/console/supervisor")).text)
    budi = floor_scene["journeys"]["Budi"]
    cases = {
        f"agent:{offline}": "agent_unavailable",
        f"agent:{uuid.uuid4()}": "unknown_agent",
        "team:nosuchteam": "unknown_team",
        "somewhere": "bad_target",
        "agent:not-a-uuid": "bad_target",
    }
    for target, code in cases.items():
        posted = await browser.post(
            f"/console/supervisor/journeys/{budi}/reassign",
            data={"csrf_token": token, "target": target},
        )
        assert posted.headers["location"] == f"/console/supervisor?error={code}", target
    missing = await browser.post(
        f"/console/supervisor/journeys/{uuid.uuid4()}/reassign",
        data={"csrf_token": token, "target": f"agent:{floor_scene['alice']}"},
    )
    assert missing.headers["location"] == "/console/supervisor?error=journey_not_found"
    shown = await browser.get("/console/supervisor?error=agent_unavailable")
    assert "That agent is not online." in shown.text
    no_csrf = await browser.post(
        f"/console/supervisor/journeys/{budi}/reassign",
        data={"target": f"agent:{floor_scene['alice']}"},
    )
    assert no_csrf.status_code == 403
    async with hub.db.read() as session:
        assert await session.get(QueueEntryRow, budi) is not None  # still waiting
        assert (await session.scalars(select(AuditEntry))).all() == []


def test_sla_risk() -> None:
    now = clock.now()
    horizon = timedelta(minutes=30)
    assert sla_risk(None, False, now, horizon) is None
    assert sla_risk(None, True, now, horizon) == "breached"
    assert sla_risk(now - timedelta(seconds=1), False, now, horizon) == "breached"
    assert sla_risk(now + timedelta(minutes=10), False, now, horizon) == "at risk"
    assert sla_risk(now + timedelta(hours=2), False, now, horizon) == "on track"


async def test_long_queues_list_the_first_ones_and_count_all(
    browser: httpx.AsyncClient, floor_scene: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from relaydesk.console import floor

    monkeypatch.setattr(floor, "SHOWN", 1)
    await sign_in(browser, "sam@example.com")
    page = await browser.get("/console/supervisor", params={"sort": "value"})
    assert waiting_ids(page.text) == [str(floor_scene["journeys"]["Budi"])]
    assert (
        "<strong>2</strong> waiting" in page.text and "<strong>1</strong> at SLA risk" in page.text
    )
    assert "Showing the first 1 of 2" in page.text


async def test_reassign_over_capacity_is_a_form_error_unless_forced(
    hub: Hub, browser: httpx.AsyncClient, floor_scene: dict[str, Any]
) -> None:
    alice, journeys = floor_scene["alice"], floor_scene["journeys"]

    async def one_each(session: AsyncSession) -> None:
        agent = await session.get(Agent, alice)
        assert agent is not None
        agent.capacity = {"voice": 1, "chat": 1, "messaging": 1, "email": 1}

    await hub.db.transaction(one_each)
    await sign_in(browser, "sam@example.com")
    token = csrf_of((await browser.get("/console/supervisor")).text)
    target = {"csrf_token": token, "target": f"agent:{alice}"}
    first = await browser.post(
        f"/console/supervisor/journeys/{journeys['Anna']}/reassign", data=target
    )
    assert first.headers["location"] == "/console/supervisor?done=reassigned"

    budi = journeys["Budi"]
    refused = await browser.post(f"/console/supervisor/journeys/{budi}/reassign", data=target)
    assert refused.status_code == 409
    assert "Alice Agent is at load 1.00 of capacity 1.00 (1 open conversation)" in refused.text
    assert "force over capacity" in refused.text
    async with hub.db.read() as session:
        assert await session.get(QueueEntryRow, budi) is not None  # still waiting
        audited = (await session.scalars(select(AuditEntry))).all()
    assert [e.target for e in audited] == [str(journeys["Anna"])]

    forced = await browser.post(
        f"/console/supervisor/journeys/{budi}/reassign", data={**target, "force": "yes"}
    )
    assert forced.headers["location"] == "/console/supervisor?done=reassigned"
    async with hub.db.read() as session:
        journey = await session.get(Journey, budi)
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.target == str(budi)))
        override = await session.scalar(
            select(RoutingDecision).where(RoutingDecision.journey_id == budi)
        )
    assert journey is not None and journey.owner_agent_id == alice
    assert entry is not None and entry.after["forced"] is True
    assert override is not None and override.reason == "forced_over_capacity"
    assert override.inputs["forced_by"] == str(floor_scene["sam"])
