"""`relaydesk demo` (make serve) gives the demo supervisor a fresh random console password."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select
from tests.console.support import sign_in
from tests.helpers.workspace import apply_text

from relaydesk.agents.models import Agent
from relaydesk.agents.passwords import verify_password
from relaydesk.demo import DEMO_AGENT_EMAIL, demo_sign_in
from relaydesk.hub import Hub
from relaydesk.settings import Settings

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-workspace.yaml"


async def _hash(hub: Hub, email: str) -> str | None:
    async with hub.db.read() as session:
        return await session.scalar(select(Agent.password_hash).where(Agent.email == email))


async def test_demo_agent_gets_a_new_random_password_each_run(
    hub: Hub, settings: Settings, browser: httpx.AsyncClient
) -> None:
    await apply_text(hub, DEMO.read_text())
    first = await demo_sign_in(settings)
    assert first is not None
    email, password = first
    assert email == DEMO_AGENT_EMAIL
    assert len(password) >= 12
    assert verify_password(await _hash(hub, email), password)
    second = await demo_sign_in(settings)
    assert second is not None and second[1] != password
    assert not verify_password(await _hash(hub, email), password)  # the old one stops working
    response = await sign_in(browser, email, second[1])
    assert response.status_code == 303


async def test_a_real_workspace_without_the_demo_supervisor_is_left_alone(
    hub: Hub, settings: Settings
) -> None:
    """`relaydesk demo` pointed at a real workspace never resets a real person's password."""
    assert await demo_sign_in(settings) is None  # no agents at all
    await apply_text(
        hub,
        """
version: 1
agents:
  - {email: zed@example.com, name: Zed, role: agent}
  - {email: sue@example.com, name: Sue, role: admin}
""",
    )
    assert await demo_sign_in(settings) is None
    assert await _hash(hub, "sue@example.com") is None
    assert await _hash(hub, "zed@example.com") is None


async def test_a_new_demo_password_ends_the_old_sessions(
    hub: Hub, settings: Settings, browser: httpx.AsyncClient
) -> None:
    await apply_text(hub, DEMO.read_text())
    first = await demo_sign_in(settings)
    assert first is not None
    assert (await sign_in(browser, first[0], first[1])).status_code == 303
    assert (await browser.get("/console")).status_code == 200
    assert await demo_sign_in(settings) is not None
    response = await browser.get("/console")
    assert response.status_code == 303 and "/console/login" in response.headers["location"]


async def test_the_demo_customers_have_past_journeys_with_outcomes(
    hub: Hub, settings: Settings, browser: httpx.AsyncClient
) -> None:
    """`make serve`'s customer panel shows *Past journeys* with outcomes: the resolved ones
    are seeded on their own day, so the customer's next message does not reopen them, and
    they stay resolved once the worker has run every listener."""
    from relaydesk.customers.models import Customer
    from relaydesk.demo import seed_demo
    from relaydesk.journeys.models import Journey
    from relaydesk.worker import Worker

    await apply_text(hub, DEMO.read_text())
    await seed_demo(settings)
    await Worker(hub).drain()
    async with hub.db.read() as session:
        rows = (
            await session.execute(
                select(Customer.name, Journey.id, Journey.status, Journey.outcome)
                .join(Customer, Customer.id == Journey.customer_id)
                .order_by(Journey.created_at)
            )
        ).all()
    past = {(name, outcome) for name, _, status, outcome in rows if status == "resolved"}
    assert ("Maja Lindqvist", "purchase") in past and ("Budi Santoso", "resolved") in past
    maja_open = [j for name, j, status, _ in rows if name == "Maja Lindqvist" and status == "open"]
    assert len(maja_open) == 1

    signed = await demo_sign_in(settings)
    assert signed is not None
    assert (await sign_in(browser, signed[0], signed[1])).status_code == 303
    page = (await browser.get(f"/console/journeys/{maja_open[0]}")).text
    panel = page.split('id="customer-title"')[1]
    assert ">resolved</span> · purchase" in panel
