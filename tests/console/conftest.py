"""Console fixtures: agents with passwords, a signed-in browser-like client, demo data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from tests.console.support import BASE, PASSWORD, WORKSPACE
from tests.helpers.workspace import apply_text

from relaydesk.agents.actions import create_agent
from relaydesk.agents.passwords import hash_password
from relaydesk.app import create_app
from relaydesk.demo import _seed_customers
from relaydesk.hub import Hub

MakeAgent = Callable[..., Awaitable[uuid.UUID]]


@pytest.fixture
def make_agent(hub: Hub) -> MakeAgent:
    async def make(
        email: str = "alice@example.com",
        *,
        role: str = "agent",
        name: str = "Alice Agent",
        password: str = PASSWORD,
    ) -> uuid.UUID:
        digest = hash_password(password)
        agent = await hub.db.transaction(
            lambda s: create_agent(s, email, name=name, role=role, password_hash=digest)
        )
        return agent.id

    return make


@pytest.fixture
async def browser(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous client that keeps cookies, like a browser tab (no redirects followed)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(hub=hub)), base_url=BASE
    ) as http:
        yield http


@pytest.fixture
async def seeded(hub: Hub) -> None:
    """The demo customers (orders, profiles, history on two channels)."""
    await apply_text(hub, WORKSPACE)
    await hub.db.transaction(_seed_customers)
