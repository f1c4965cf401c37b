"""The journey view's "next status update" form: CSRF, ownership, the plan it sets."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from tests.console.conftest import MakeAgent
from tests.console.support import csrf_of, sign_in

from relaydesk import clock
from relaydesk.customers.models import Customer
from relaydesk.hub import Hub
from relaydesk.journeys.actions import change_owner
from relaydesk.journeys.models import Journey
from relaydesk.journeys.states import JourneyOwner
from relaydesk.outreach.models import UpdatePlan


async def maja_journey(hub: Hub) -> Journey:
    async with hub.db.read() as session:
        return (
            await session.scalars(
                select(Journey)
                .join(Customer, Customer.id == Journey.customer_id)
                .where(Journey.status == "open", Customer.name.like("Maja%"))
            )
        ).one()


async def test_an_agent_plans_the_next_update_from_the_journey_view(
    browser: httpx.AsyncClient, hub: Hub, seeded: None, make_agent: MakeAgent
) -> None:
    alice = await make_agent("alice@example.com", name="Alice Agent")
    await make_agent("bob@example.com", name="Bob Other")
    journey = await maja_journey(hub)
    await hub.db.transaction(
        lambda s: change_owner(
            s, journey.id, JourneyOwner.AGENT, reason="test", actor="t", agent_id=alice
        )
    )
    await sign_in(browser, "alice@example.com")
    page = await browser.get(f"/console/journeys/{journey.id}")
    assert 'action="/console/journeys/' in page.text and "Next status update" in page.text
    no_token = await browser.post(f"/console/journeys/{journey.id}/next-update", data={"text": "x"})
    assert no_token.status_code == 403
    bad = await browser.post(
        f"/console/journeys/{journey.id}/next-update",
        data={"csrf_token": csrf_of(page.text), "at": "tomorrow-ish"},
    )
    assert bad.status_code == 400 and "date and time" in bad.text
    # A day ahead in the workspace's time zone (the form's), so it is in the future at any hour.
    ahead = (clock.now() + timedelta(days=1)).astimezone(ZoneInfo("Europe/Stockholm"))
    when = ahead.strftime("%Y-%m-%dT%H:%M")
    sent = await browser.post(
        f"/console/journeys/{journey.id}/next-update",
        data={
            "csrf_token": csrf_of(page.text),
            "at": when,
            "text": "The lab is testing your sample; next update by {next_update}.",
        },
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"].endswith("?sent=next_update")
    after = await browser.get(sent.headers["location"])
    assert "Next status update planned." in after.text and "Waiting on the company" in after.text
    async with hub.db.read() as session:
        plan = await session.get(UpdatePlan, journey.id)
        status = await session.scalar(select(Journey.status).where(Journey.id == journey.id))
    assert status == "pending" and plan is not None
    assert plan.text is not None and plan.text.startswith("The lab is testing")
    assert plan.set_by == f"agent:{alice}"


async def test_only_the_holder_plans_updates(
    browser: httpx.AsyncClient, hub: Hub, seeded: None, make_agent: MakeAgent
) -> None:
    alice = await make_agent("alice@example.com", name="Alice Agent")
    await make_agent("bob@example.com", name="Bob Other")
    journey = await maja_journey(hub)
    await hub.db.transaction(
        lambda s: change_owner(
            s, journey.id, JourneyOwner.AGENT, reason="test", actor="t", agent_id=alice
        )
    )
    await sign_in(browser, "bob@example.com")
    page = await browser.get(f"/console/journeys/{journey.id}")
    assert page.status_code == 403  # another agent's journey is not even shown to Bob
    assert "Next status update" not in page.text
    inbox = await browser.get("/console")
    refused = await browser.post(
        f"/console/journeys/{journey.id}/next-update", data={"csrf_token": csrf_of(inbox.text)}
    )
    assert refused.status_code == 403
    async with hub.db.read() as session:
        assert await session.get(UpdatePlan, journey.id) is None
