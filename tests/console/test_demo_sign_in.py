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
