"""Inbox filters (channel, status, intent, SLA risk), unread markers, delivery status live."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from tests.console.support import BASE, sign_in
from tests.console.test_floor_listeners import _event
from tests.console.test_pages import rows_of, scene  # noqa: F401  (the fixture)

from relaydesk import clock
from relaydesk.app import create_app
from relaydesk.console.floor_listeners import announce_delivery
from relaydesk.console.models import ReadMarker
from relaydesk.db import new_id
from relaydesk.hub import Hub
from relaydesk.journeys.listeners import LIVE_TOPIC
from relaydesk.journeys.models import Journey, Message
from relaydesk.sla.models import SlaClock


async def _set_intent(hub: Hub, journey_id: uuid.UUID, intent: str) -> None:
    async def write(session: AsyncSession) -> None:
        await session.execute(
            update(Journey)
            .where(Journey.id == journey_id)
            .values(handoff={"intent": intent, "summary": "s", "reason": "asked_for_human"})
        )

    await hub.db.transaction(write)


async def _clock(
    hub: Hub,
    journey_id: uuid.UUID,
    *,
    kind: str = "first_response",
    status: str = "due",
    due_in: timedelta | None = None,
    warn_in: timedelta | None = None,
) -> None:
    now = clock.now()

    async def write(session: AsyncSession) -> None:
        session.add(
            SlaClock(
                journey_id=journey_id,
                kind=kind,
                policy="standard",
                calendar="24/7",
                target_seconds=3600,
                started_at=now - timedelta(minutes=30),
                due_at=None if due_in is None else now + due_in,
                status=status,
                warn_at=None if warn_in is None else now + warn_in,
                updated_at=now,
            )
        )

    await hub.db.transaction(write)


async def _customer_writes(hub: Hub, journey_id: uuid.UUID, text: str) -> None:
    """A new inbound customer message on the journey's first conversation."""
    async with hub.db.read() as session:
        last = await session.scalar(
            select(Message).where(Message.journey_id == journey_id).limit(1)
        )
    assert last is not None
    now = clock.now()

    async def write(session: AsyncSession) -> None:
        session.add(
            Message(
                id=new_id(),
                conversation_id=last.conversation_id,
                journey_id=journey_id,
                customer_id=last.customer_id,
                channel_id=last.channel_id,
                direction="inbound",
                author_type="customer",
                text=text,
                meta={},
                created_at=now,
                received_at=now,
            )
        )

    await hub.db.transaction(write)


async def test_intent_and_sla_filters_combine_with_the_others(
    browser: httpx.AsyncClient,
    scene: dict[str, Any],  # noqa: F811  (the fixture imported above)
    hub: Hub,
) -> None:
    j = scene["journeys"]
    await _set_intent(hub, j["Maja"].id, "order_status")
    await _set_intent(hub, j["Budi"].id, "return_request")
    await _clock(hub, j["Maja"].id, due_in=timedelta(hours=2))  # on track
    await _clock(hub, j["Budi"].id, due_in=timedelta(minutes=40), warn_in=timedelta(minutes=-5))
    await _clock(hub, j["Anna"].id, due_in=timedelta(minutes=-1))  # past due: breached
    await sign_in(browser, "sam@example.com")

    async def ids(**params: str) -> set[str]:
        page = await browser.get("/console", params={"view": "all", **params})
        assert page.status_code == 200
        assert "were not understood" not in page.text
        return set(rows_of(page.text))

    assert await ids(intent="order_status") == {str(j["Maja"].id)}
    assert await ids(intent="return_request", channel="mobile-app") == {str(j["Budi"].id)}
    assert await ids(intent="return_request", channel="website") == set()
    assert await ids(sla="on_track") == {str(j["Maja"].id)}
    assert await ids(sla="at_risk") == {str(j["Budi"].id)}
    assert await ids(sla="breached") == {str(j["Anna"].id)}
    assert await ids(sla="breached", status="resolved") == set()
    assert await ids(sla="on_track", intent="order_status", channel="website") == {
        str(j["Maja"].id)
    }
    page = await browser.get("/console", params={"view": "all", "sla": "at_risk"})
    assert "⚠ At risk" in page.text and 'value="at_risk" selected' in page.text
    everything = (await browser.get("/console", params={"view": "all"})).text
    assert "✖ Breached" in everything and "On track" in everything
    assert "order status" in everything  # the intent under the customer's name


async def test_an_agent_clock_without_warning_is_at_risk_near_its_due_time(
    browser: httpx.AsyncClient,
    scene: dict[str, Any],  # noqa: F811  (the fixture imported above)
    hub: Hub,
) -> None:
    maja = scene["journeys"]["Maja"]
    await _clock(hub, maja.id, due_in=timedelta(minutes=5))
    await _clock(hub, maja.id, kind="resolution", due_in=timedelta(hours=8))
    await sign_in(browser, "alice@example.com")
    at_risk = await browser.get("/console", params={"sla": "at_risk"})
    assert rows_of(at_risk.text) == [str(maja.id)]
    assert rows_of((await browser.get("/console", params={"sla": "on_track"})).text) == []
    budi = scene["journeys"]["Budi"]  # queued, no clock: on track, in the queue view only
    queued = await browser.get("/console", params={"view": "queue", "sla": "on_track"})
    assert rows_of(queued.text) == [str(budi.id)]
    assert (
        rows_of((await browser.get("/console", params={"view": "queue", "sla": "breached"})).text)
        == []
    )


async def test_bad_filter_values_are_ignored_and_named(
    browser: httpx.AsyncClient,
    scene: dict[str, Any],  # noqa: F811
) -> None:
    await sign_in(browser, "alice@example.com")
    page = await browser.get(
        "/console",
        params={
            "view": "all",
            "status": "nope",
            "channel": "no-such-channel",
            "intent": "DROP TABLE",
            "sla": "late",
        },
    )
    assert page.status_code == 200
    text = page.text
    assert 'role="alert" id="filter-problems"' in text
    assert "Only supervisors and admins see all journeys" in text
    assert "Unknown status &#39;nope&#39;" in text
    assert "No channel named &#39;no-such-channel&#39;" in text
    assert "&#39;DROP TABLE&#39; is not an intent name" in text
    assert "Unknown SLA risk &#39;late&#39;" in text
    assert rows_of(text) == [str(scene["journeys"]["Maja"].id)]  # the defaults
    huge = await browser.get("/console", params={"intent": "x" * 5000, "channel": "y" * 5000})
    assert huge.status_code == 200 and "…" in huge.text


async def test_filters_need_a_session(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/console", params={"sla": "breached"})
    assert response.status_code in (303, 307)
    assert "/console/login" in response.headers["location"]


async def test_unread_until_opened_and_again_after_a_new_message(
    browser: httpx.AsyncClient,
    scene: dict[str, Any],  # noqa: F811  (the fixture imported above)
    hub: Hub,
) -> None:
    maja = scene["journeys"]["Maja"]
    await sign_in(browser, "alice@example.com")

    def unread(html: str) -> bool:
        row = html.split(f'<tr data-journey-id="{maja.id}"')[1].split("</tr>")[0]
        marked = 'class="unread"' in row
        assert marked == ('New<span class="sr-only"> messages</span>' in row)  # words too
        return marked

    assert unread((await browser.get("/console")).text)  # never opened
    assert (await browser.get(f"/console/journeys/{maja.id}")).status_code == 200
    assert not unread((await browser.get("/console")).text)
    async with hub.db.read() as session:
        first = await session.scalar(
            select(ReadMarker.read_at).where(
                ReadMarker.agent_id == scene["alice"], ReadMarker.journey_id == maja.id
            )
        )
    assert first is not None
    await browser.get(f"/console/journeys/{maja.id}")  # nothing new: no write
    async with hub.db.read() as session:
        again = await session.scalar(
            select(ReadMarker.read_at).where(ReadMarker.journey_id == maja.id)
        )
    assert again == first

    await _customer_writes(hub, maja.id, "Any news?")
    assert unread((await browser.get("/console")).text)
    # Another agent's marker is their own: Sam (supervisor) still sees it unread.
    app = create_app(hub=hub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as sam:
        await sign_in(sam, "sam@example.com")
        await browser.get(f"/console/journeys/{maja.id}")
        assert not unread((await browser.get("/console")).text)
        assert unread((await sam.get("/console", params={"view": "all"})).text)


async def test_opening_a_journey_one_may_not_see_marks_nothing(
    browser: httpx.AsyncClient,
    scene: dict[str, Any],  # noqa: F811  (the fixture imported above)
    hub: Hub,
) -> None:
    await sign_in(browser, "bob@example.com")
    maja = scene["journeys"]["Maja"]
    assert (await browser.get(f"/console/journeys/{maja.id}")).status_code == 403
    async with hub.db.read() as session:
        assert await session.scalar(select(ReadMarker.journey_id)) is None


async def test_delivery_changes_reach_the_console_topic(hub: Hub) -> None:
    journey = uuid.uuid4()
    async with hub.broadcast.subscribe(LIVE_TOPIC) as queue:
        await announce_delivery(
            hub,
            _event(
                "message.delivery_changed",
                journey,
                {"message_id": str(uuid.uuid4()), "status": "read", "error_code": None},
            ),
        )
        frame = await asyncio.wait_for(queue.get(), 5)
    assert frame == {"type": "message.delivery", "journey_id": str(journey)}


async def test_delivery_status_in_words_on_the_timeline(
    browser: httpx.AsyncClient,
    scene: dict[str, Any],  # noqa: F811  (the fixture imported above)
    hub: Hub,
) -> None:
    maja = scene["journeys"]["Maja"]
    async with hub.db.read() as session:
        template = await session.scalar(select(Message).where(Message.journey_id == maja.id))
    assert template is not None
    now = clock.now()

    async def write(session: AsyncSession) -> None:
        for status, text in (("delivered", "Parcel found"), ("failed", "Second try")):
            session.add(
                Message(
                    id=new_id(),
                    conversation_id=template.conversation_id,
                    journey_id=maja.id,
                    customer_id=template.customer_id,
                    channel_id=template.channel_id,
                    direction="outbound",
                    author_type="agent",
                    author_id=str(scene["alice"]),
                    text=text,
                    meta={},
                    created_at=now,
                    received_at=now,
                    delivery_status=status,
                    delivery_error="number unreachable" if status == "failed" else None,
                )
            )

    await hub.db.transaction(write)
    await sign_in(browser, "alice@example.com")
    page = (await browser.get(f"/console/journeys/{maja.id}")).text
    assert '<span class="sr-only">Delivery: </span>Delivered ✓✓' in page
    assert 'Failed ✖<span class="sr-only"> (number unreachable)</span>' in page
