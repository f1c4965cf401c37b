"""Presence switch, load, and offers waiting in the inbox: answered through routing's actions."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial

import httpx
import pytest
from sqlalchemy import select
from tests.console.support import BASE, PASSWORD, csrf_of, sign_in
from tests.helpers.workspace import apply_text

from relaydesk import clock
from relaydesk.agents.actions import set_password
from relaydesk.agents.models import Agent
from relaydesk.agents.passwords import hash_password
from relaydesk.app import create_app
from relaydesk.bus import StoredEvent
from relaydesk.hub import Hub
from relaydesk.journeys.actions import change_owner
from relaydesk.journeys.listeners import LIVE_TOPIC
from relaydesk.journeys.models import Journey
from relaydesk.journeys.states import JourneyOwner
from relaydesk.routing.actions import take_handoff
from relaydesk.routing.events import OfferMade
from relaydesk.routing.listeners import announce_offer
from relaydesk.routing.models import Assignment
from relaydesk.routing.understanding import Understood

WORKSPACE = """
settings:
  currency: EUR
channels:
  - name: api
    kind: api
agents:
  - email: ana@example.com
    name: Ana Agent
    languages: [en]
    capacity: {messaging: 2}
  - email: bo@example.com
    name: Bo Agent
    languages: [en]
    capacity: {messaging: 2}
routing:
  threshold: 100
  offer_timeout: 30s
"""

OFFER = re.compile(r'action="/console/offers/([0-9a-f-]{36})/accept"')


@pytest.fixture
async def agents(hub: Hub) -> dict[str, uuid.UUID]:
    """Ana and Bo from the workspace, with console passwords; both offline."""
    await apply_text(hub, WORKSPACE)
    digest = hash_password(PASSWORD)
    for email in ("ana@example.com", "bo@example.com"):
        await hub.db.transaction(partial(set_password, email=email, password_hash=digest))
    async with hub.db.read() as session:
        rows = (await session.execute(select(Agent.name, Agent.id))).all()
    return {name.split()[0]: agent_id for name, agent_id in rows}


@pytest.fixture
async def second(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser (its own cookies)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(hub=hub)), base_url=BASE
    ) as http:
        yield http


async def _signed_in(http: httpx.AsyncClient, email: str) -> str:
    """Sign in; the CSRF token of the inbox."""
    assert (await sign_in(http, email)).status_code == 303
    page = await http.get("/console")
    assert page.status_code == 200
    return csrf_of(page.text)


async def _set_presence(http: httpx.AsyncClient, csrf: str, presence: str) -> httpx.Response:
    return await http.post(
        "/console/presence", data={"csrf_token": csrf, "presence": presence, "next": "/console"}
    )


async def _presence(hub: Hub, agent_id: uuid.UUID) -> str:
    async with hub.db.read() as session:
        value = await session.scalar(select(Agent.presence).where(Agent.id == agent_id))
    assert value is not None
    return value


async def _waiting_journey(hub: Hub, client: httpx.AsyncClient, who: str) -> uuid.UUID:
    """A customer asks for a person; routing takes the handoff and offers the journey."""
    response = await client.post(
        "/api/v1/messages",
        json={
            "channel": "api",
            "external_id": f"m-{who}",
            "sender": {"email": f"{who.lower()}@example.com", "name": f"{who} Customer"},
            "text": "I want to talk to a human",
        },
    )
    assert response.status_code in (200, 201), response.text
    journey_id = uuid.UUID(response.json()["journey_id"])
    await hub.db.transaction(
        lambda s: change_owner(s, journey_id, JourneyOwner.QUEUE, reason="asked", actor="t")
    )
    await hub.db.transaction(
        lambda s: take_handoff(s, journey_id, Understood(), reason="asked_for_person")
    )
    return journey_id


async def _offers(hub: Hub, journey_id: uuid.UUID) -> list[Assignment]:
    async with hub.db.read() as session:
        return list(
            (
                await session.scalars(
                    select(Assignment)
                    .where(Assignment.journey_id == journey_id)
                    .order_by(Assignment.created_at, Assignment.id)
                )
            ).all()
        )


async def test_presence_switch_changes_presence_and_shows_load(
    hub: Hub, browser: httpx.AsyncClient, agents: dict[str, uuid.UUID]
) -> None:
    csrf = await _signed_in(browser, "ana@example.com")
    page = await browser.get("/console")
    assert 'option value="offline" selected' in page.text
    assert "Load 0% · 0 conversations" in page.text and "messaging 2, voice 1</span>" in page.text

    done = await _set_presence(browser, csrf, "online")
    assert done.status_code == 303 and done.headers["location"] == "/console"
    assert await _presence(hub, agents["Ana"]) == "online"
    page = await browser.get("/console")
    assert 'option value="online" selected' in page.text

    back = await browser.post(
        "/console/presence",
        data={"csrf_token": csrf, "presence": "away", "next": "/console?view=queue"},
    )
    assert back.status_code == 303 and back.headers["location"] == "/console?view=queue"
    offsite = await browser.post(
        "/console/presence",
        data={"csrf_token": csrf, "presence": "away", "next": "https://evil.example/"},
    )
    assert offsite.headers["location"] == "/console"
    assert await _presence(hub, agents["Ana"]) == "away"
    bad = await _set_presence(browser, csrf, "asleep")
    assert bad.status_code == 400
    assert await _presence(hub, agents["Ana"]) == "away"
    assert await _presence(hub, agents["Bo"]) == "offline"  # only the signed-in agent


async def test_presence_switch_refuses_without_csrf(
    hub: Hub, browser: httpx.AsyncClient, agents: dict[str, uuid.UUID]
) -> None:
    await _signed_in(browser, "ana@example.com")
    missing = await browser.post("/console/presence", data={"presence": "online"})
    assert missing.status_code == 403
    wrong = await _set_presence(browser, "not-the-token", "online")
    assert wrong.status_code == 403
    assert await _presence(hub, agents["Ana"]) == "offline"


async def test_offer_shows_for_the_offered_agent_only_and_accept_makes_them_owner(
    hub: Hub,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    second: httpx.AsyncClient,
    agents: dict[str, uuid.UUID],
    manual_clock: clock.ManualClock,
) -> None:
    ana_csrf = await _signed_in(browser, "ana@example.com")
    bo_csrf = await _signed_in(second, "bo@example.com")
    await _set_presence(browser, ana_csrf, "online")
    journey_id = await _waiting_journey(hub, client, "Maja")
    [offer] = await _offers(hub, journey_id)
    assert offer.agent_id == agents["Ana"] and offer.status == "offered"

    ana = await browser.get("/console")
    assert OFFER.findall(ana.text) == [str(offer.id)]
    assert "Offers waiting for you" in ana.text and "Maja Customer" in ana.text
    assert 'data-expires-in="30"' in ana.text  # server-rendered countdown
    assert f"at {offer.expires_at:%H:%M:%S} UTC" in ana.text  # what shows without JS
    assert "Load 50% · 1 conversation · capacity" in ana.text  # the offer reserves capacity
    bo = await second.get("/console")
    assert "Offers waiting for you" not in bo.text and OFFER.findall(bo.text) == []

    # Bo cannot answer Ana's offer, even with his own valid token.
    stolen = await second.post(f"/console/offers/{offer.id}/accept", data={"csrf_token": bo_csrf})
    assert stolen.status_code == 404
    no_csrf = await browser.post(f"/console/offers/{offer.id}/accept", data={})
    assert no_csrf.status_code == 403
    assert (await _offers(hub, journey_id))[0].status == "offered"

    manual_clock.advance(timedelta(seconds=10))
    later = await browser.get("/console")
    assert 'data-expires-in="20"' in later.text

    accepted = await browser.post(
        f"/console/offers/{offer.id}/accept", data={"csrf_token": ana_csrf}
    )
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/console/journeys/{journey_id}"
    async with hub.db.read() as session:
        journey = await session.get(Journey, journey_id)
    assert journey is not None
    assert (journey.owner_type, journey.owner_agent_id) == ("agent", agents["Ana"])
    view = await browser.get(accepted.headers["location"])
    assert view.status_code == 200 and 'option value="online" selected' in view.text
    assert OFFER.findall((await browser.get("/console")).text) == []
    again = await browser.post(f"/console/offers/{offer.id}/accept", data={"csrf_token": ana_csrf})
    assert again.status_code == 303 and again.headers["location"] == "/console?offer=accepted"
    told = await browser.get(again.headers["location"])
    assert "That offer is no longer waiting for you: it was accepted." in told.text


async def test_decline_offers_the_journey_to_the_other_online_agent(
    hub: Hub,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    second: httpx.AsyncClient,
    agents: dict[str, uuid.UUID],
) -> None:
    ana_csrf = await _signed_in(browser, "ana@example.com")
    bo_csrf = await _signed_in(second, "bo@example.com")
    await _set_presence(browser, ana_csrf, "online")
    await _set_presence(second, bo_csrf, "online")
    journey_id = await _waiting_journey(hub, client, "Budi")
    [first] = await _offers(hub, journey_id)
    first_http, other_http, other = (
        (browser, second, "Bo") if first.agent_id == agents["Ana"] else (second, browser, "Ana")
    )
    first_csrf = ana_csrf if first_http is browser else bo_csrf

    declined = await first_http.post(
        f"/console/offers/{first.id}/decline", data={"csrf_token": first_csrf}
    )
    assert declined.status_code == 303 and declined.headers["location"] == "/console"
    old, new = await _offers(hub, journey_id)
    assert old.status == "declined"
    assert new.status == "offered" and new.agent_id == agents[other]
    assert OFFER.findall((await first_http.get("/console")).text) == []
    assert OFFER.findall((await other_http.get("/console")).text) == [str(new.id)]


async def test_expired_offers_do_not_show(
    hub: Hub,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    agents: dict[str, uuid.UUID],
    manual_clock: clock.ManualClock,
) -> None:
    csrf = await _signed_in(browser, "ana@example.com")
    await _set_presence(browser, csrf, "online")
    journey_id = await _waiting_journey(hub, client, "Anna")
    [offer] = await _offers(hub, journey_id)
    assert OFFER.findall((await browser.get("/console")).text) == [str(offer.id)]
    # Past its expiry but before the worker's timer fires: still "offered" in the table.
    manual_clock.advance(timedelta(seconds=31))
    assert (await _offers(hub, journey_id))[0].status == "offered"
    page = await browser.get("/console")
    assert OFFER.findall(page.text) == [] and "Offers waiting for you" not in page.text
    late = await browser.post(f"/console/offers/{offer.id}/accept", data={"csrf_token": csrf})
    assert late.status_code == 303 and late.headers["location"] == "/console?offer=expired"
    assert (await _offers(hub, journey_id))[0].status == "offered"  # the timer closes it
    async with hub.db.read() as session:
        journey = await session.get(Journey, journey_id)
    assert journey is not None and journey.owner_type == "queue"


async def test_new_offers_are_announced_on_the_live_topic(
    hub: Hub, client: httpx.AsyncClient, browser: httpx.AsyncClient, agents: dict[str, uuid.UUID]
) -> None:
    csrf = await _signed_in(browser, "ana@example.com")
    await _set_presence(browser, csrf, "online")
    journey_id = await _waiting_journey(hub, client, "Lena")
    [offer] = await _offers(hub, journey_id)
    event = StoredEvent(
        id=uuid.uuid4(),
        name=OfferMade.name,
        journey_id=journey_id,
        customer_id=offer.customer_id,
        payload={"offer_id": str(offer.id), "agent_id": str(offer.agent_id)},
        occurred_at=clock.now(),
        actor="routing",
    )
    async with hub.broadcast.subscribe(LIVE_TOPIC) as queue:
        await announce_offer(hub, event)
        message = queue.get_nowait()
    # Ids only: the page re-reads what it shows through the authenticated routes.
    assert message == {"type": "offer.created", "journey_id": str(journey_id)}
