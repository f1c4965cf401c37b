"""Creating an agent in the admin: the workspace file's agent fields plus a first password
(the CLI's rule, argon2); a taken email or a weak password is refused by the field with
nothing written; audited as ``agent.created`` without the password or its hash."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.console.conftest import MakeAgent
from tests.console.support import csrf_of, sign_in

from relaydesk.agents.models import Agent, Team, agent_teams
from relaydesk.agents.passwords import verify_password
from relaydesk.audit.models import AuditEntry
from relaydesk.hub import Hub

PATH = "/console/admin/agents/new"
SECRET = "a long first password"


@pytest.fixture
async def people(hub: Hub, seeded: None, make_agent: MakeAgent) -> dict[str, Any]:
    return {
        "admin": await make_agent("ada@example.com", name="Ada Admin", role="admin"),
        "sam": await make_agent("sam@example.com", name="Sam Supervisor", role="supervisor"),
        "alice": await make_agent("alice@example.com", name="Alice Agent"),
    }


async def _audit(hub: Hub) -> list[AuditEntry]:
    async with hub.db.read() as session:
        return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


async def _count(hub: Hub) -> int:
    async with hub.db.read() as session:
        return len((await session.scalars(select(Agent))).all())


def _form(token: str, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "email": "Bob@Example.com",
        "password": SECRET,
        "name": "Bob Builder",
        "role": "supervisor",
        "teams": "support",
        "languages": "en, sv",
        "skills": "billing=2, returns",
        "capacity_chat": "2",
        "active": "on",
        **changes,
    }


async def test_create_agent_then_sign_in(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    listing = await browser.get("/console/admin/agents")
    assert 'href="/console/admin/agents/new"' in listing.text
    page = await browser.get(PATH)
    assert page.status_code == 200 and 'id="password"' in page.text
    made = await browser.post(PATH, data=_form(csrf_of(page.text)))
    assert made.status_code == 303
    async with hub.db.read() as session:
        bob = await session.scalar(select(Agent).where(Agent.email == "bob@example.com"))
        assert bob is not None
        teams = (
            await session.scalars(
                select(Team.name)
                .join(agent_teams, agent_teams.c.team_id == Team.id)
                .where(agent_teams.c.agent_id == bob.id)
            )
        ).all()
    assert made.headers["location"] == f"/console/admin/agents/{bob.id}?saved=created"
    assert (bob.name, bob.role, bob.languages, bob.active) == (
        "Bob Builder",
        "supervisor",
        ["en", "sv"],
        True,
    )
    assert bob.skills == {"billing": 2, "returns": 1} and bob.capacity["chat"] == 2
    assert list(teams) == ["support"] and bob.presence == "offline"
    assert bob.password_hash is not None and bob.password_hash.startswith("$argon2id$")
    assert verify_password(bob.password_hash, SECRET)
    [entry] = await _audit(hub)
    assert (entry.action, entry.target, entry.actor_name) == (
        "agent.created",
        "bob@example.com",
        "Ada Admin",
    )
    assert entry.after["role"] == "supervisor" and entry.after["teams"] == ["support"]
    assert SECRET not in str(entry.after) and "argon2" not in str(entry.after)
    assert "password" not in str(entry.after)
    shown = await browser.get(made.headers["location"])
    assert "Agent created" in shown.text
    browser.cookies.clear()
    assert (await sign_in(browser, "bob@example.com", SECRET)).status_code == 303


async def test_bad_input_writes_nothing(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    token = csrf_of((await browser.get(PATH)).text)
    before = await _count(hub)
    taken = await browser.post(PATH, data=_form(token, email="ALICE@example.com"))
    assert taken.status_code == 422 and 'id="err-email"' in taken.text
    assert "exists" in taken.text
    short = await browser.post(PATH, data=_form(token, password="short"))
    assert short.status_code == 422 and 'id="err-password"' in short.text
    assert "at least 12 characters" in short.text
    assert "short" not in re.findall(r'id="password"[^>]*>', short.text)[0]  # never echoed
    bad = await browser.post(
        PATH, data=_form(token, email="not an email", skills="billing=9", password="")
    )
    assert bad.status_code == 422
    for field in ("email", "skills", "password"):
        assert f'id="err-{field}"' in bad.text, field
    assert 'value="Bob Builder"' in bad.text  # what was typed is kept
    no_team = await browser.post(PATH, data=_form(token, teams="nowhere"))
    assert no_team.status_code == 422 and 'id="err-teams"' in no_team.text
    assert await _count(hub) == before
    assert await _audit(hub) == []


async def test_roles_and_csrf(hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]) -> None:
    await sign_in(browser, "alice@example.com")
    assert (await browser.get(PATH)).status_code == 403
    browser.cookies.clear()
    await sign_in(browser, "sam@example.com")
    page = await browser.get(PATH)
    assert page.status_code == 200 and "Create agent" not in page.text
    assert re.search(r'id="email"[^>]* disabled', page.text)
    assert (await browser.post(PATH, data=_form(csrf_of(page.text)))).status_code == 403
    browser.cookies.clear()
    await sign_in(browser, "ada@example.com")
    assert (await browser.post(PATH, data=_form("forged"))).status_code == 403
    async with hub.db.read() as session:
        assert await session.scalar(select(Agent).where(Agent.email == "bob@example.com")) is None
    assert await _audit(hub) == []
