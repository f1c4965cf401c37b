"""Admin pages: admins edit (validated with the workspace specs, errors by the field,
audited), supervisors read only, agents get the 403 page; CSRF on every form."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.console.conftest import MakeAgent
from tests.console.support import csrf_of, sign_in

from relaydesk.agents.models import Agent, Team
from relaydesk.audit.models import AuditEntry
from relaydesk.channels.models import Channel
from relaydesk.hub import Hub
from relaydesk.kb.models import KbArticle
from relaydesk.routing.queries import load_context

PAGES = (
    "/console/admin/channels",
    "/console/admin/channels/website",
    "/console/admin/agents",
    "/console/admin/agents/new",
    "/console/admin/teams",
    "/console/admin/skills",
    "/console/admin/routing",
    "/console/admin/kb",
    "/console/admin/kb/new",
    "/console/admin/intents",
    "/console/admin/intents/new",
    "/console/admin/intents/order_status",
    "/console/admin/audit",
)


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


async def test_roles(hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]) -> None:
    await sign_in(browser, "alice@example.com")
    for path in PAGES:
        page = await browser.get(path)
        assert page.status_code == 403, path
        assert "This page is not for your role" in page.text
    browser.cookies.clear()
    await sign_in(browser, "sam@example.com")
    for path in PAGES:
        page = await browser.get(path)
        assert page.status_code == 200, path
        assert not re.search(r'<button type="submit"[^>]*>(Save|Create)', page.text), path
    # a supervisor's POST is refused and changes nothing
    token = csrf_of((await browser.get("/console")).text)
    posted = await browser.post(
        "/console/admin/teams", data={"csrf_token": token, "name": "sneaky", "mode": "create"}
    )
    assert posted.status_code == 403
    browser.cookies.clear()
    await sign_in(browser, "ada@example.com")
    for path in PAGES:
        assert (await browser.get(path)).status_code == 200, path
    assert (await browser.get("/console/admin")).headers["location"] == "/console/admin/channels"
    assert (await browser.get("/console/admin/channels/nope")).status_code == 404
    assert (await browser.get("/console/admin/agents/not-a-uuid")).status_code == 404
    async with hub.db.read() as session:
        assert await session.scalar(select(Team).where(Team.name == "sneaky")) is None
    assert await _audit(hub) == []


async def test_every_admin_form_needs_csrf(
    browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    for path in (
        "/console/admin/channels/website",
        f"/console/admin/agents/{people['alice']}",
        "/console/admin/agents/new",
        "/console/admin/teams",
        "/console/admin/skills",
        "/console/admin/routing",
        "/console/admin/kb/new",
        "/console/admin/intents/new",
        "/console/admin/intents/order_status",
    ):
        page = await browser.get(path)
        assert 'name="csrf_token"' in page.text, path
        assert (await browser.post(path, data={"csrf_token": "forged"})).status_code == 403, path


async def test_agent_edit_validates_and_audits(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    path = f"/console/admin/agents/{people['alice']}"
    token = csrf_of((await browser.get(path)).text)
    bad = await browser.post(
        path,
        data={
            "csrf_token": token,
            "name": "Alice A.",
            "role": "agent",
            "skills": "billing=7",
            "languages": "english",
            "capacity_chat": "2",
        },
    )
    assert bad.status_code == 422
    assert 'id="err-skills"' in bad.text and "less than or equal to 3" in bad.text
    assert 'id="err-languages"' in bad.text
    assert 'value="Alice A."' in bad.text  # what was typed is kept
    good = await browser.post(
        path,
        data={
            "csrf_token": token,
            "name": "Alice A.",
            "role": "supervisor",
            "teams": "support",
            "skills": "billing=2, returns",
            "languages": "en, sv",
            "capacity_chat": "2",
            "active": "on",
        },
    )
    assert good.status_code == 303
    async with hub.db.read() as session:
        alice = await session.get(Agent, people["alice"])
    assert alice is not None
    assert (alice.name, alice.role, alice.languages) == ("Alice A.", "supervisor", ["en", "sv"])
    assert alice.skills == {"billing": 2, "returns": 1} and alice.capacity["chat"] == 2
    [entry] = await _audit(hub)
    assert (entry.action, entry.target, entry.actor_name) == (
        "agent.updated",
        "alice@example.com",
        "Ada Admin",
    )
    assert entry.before["role"] == "agent" and entry.after["role"] == "supervisor"
    assert entry.after["teams"] == ["support"] and "password_hash" not in entry.after
    # the same form again changes nothing and records nothing
    again = await browser.post(
        path,
        data={
            "csrf_token": token,
            "name": "Alice A.",
            "role": "supervisor",
            "teams": "support",
            "skills": "billing=2, returns=1",
            "languages": "en sv",
            "capacity_chat": "2",
            "active": "on",
        },
    )
    assert again.status_code == 303 and len(await _audit(hub)) == 1


async def test_last_admin_cannot_demote_themselves(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    path = f"/console/admin/agents/{people['admin']}"
    token = csrf_of((await browser.get(path)).text)
    refused = await browser.post(
        path, data={"csrf_token": token, "name": "Ada Admin", "role": "agent", "active": "on"}
    )
    assert refused.status_code == 422 and "last active admin" in refused.text
    assert 'id="err-role"' in refused.text
    assert await _audit(hub) == []


async def test_channel_settings_keep_secrets_as_references(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    path = "/console/admin/channels/website"
    page = await browser.get(path)
    assert "Last inbound" in page.text
    token = csrf_of(page.text)
    leaked = await browser.post(
        path,
        data={"csrf_token": token, "display_name": "Web", "settings": "api_key: hunter2\n"},
    )
    assert leaked.status_code == 422 and "env:MY_SECRET" in leaked.text
    broken = await browser.post(
        path, data={"csrf_token": token, "settings": "identity_assurance: [\n"}
    )
    assert broken.status_code == 422 and "not valid YAML" in broken.text
    saved = await browser.post(
        path,
        data={
            "csrf_token": token,
            "display_name": "Web shop",
            "settings": "identity_assurance: trusted\n",
        },
    )
    assert saved.status_code == 303
    async with hub.db.read() as session:
        channel = await session.scalar(select(Channel).where(Channel.name == "website"))
    assert channel is not None and channel.display_name == "Web shop" and not channel.enabled
    [entry] = await _audit(hub)
    assert entry.action == "channel.updated"
    assert entry.before == {"display_name": None, "enabled": True}
    assert entry.after == {"display_name": "Web shop", "enabled": False}
    assert "hunter2" not in str(entry.after)


async def test_teams_and_routing(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    token = csrf_of((await browser.get("/console/admin/teams")).text)
    bad = await browser.post(
        "/console/admin/teams", data={"csrf_token": token, "name": "Bad Name!", "mode": "create"}
    )
    assert bad.status_code == 422 and 'id="err-name"' in bad.text
    taken = await browser.post(
        "/console/admin/teams", data={"csrf_token": token, "name": "support", "mode": "create"}
    )
    assert taken.status_code == 422 and "exists" in taken.text
    made = await browser.post(
        "/console/admin/teams",
        data={"csrf_token": token, "name": "returns", "description": "Parcels", "mode": "create"},
    )
    assert made.headers["location"] == "/console/admin/teams?saved=created"
    wrong = await browser.post(
        "/console/admin/routing", data={"csrf_token": token, "routing": "policy: coin_flip\n"}
    )
    assert wrong.status_code == 422 and "policy" in wrong.text and 'id="err-routing"' in wrong.text
    ok = await browser.post(
        "/console/admin/routing",
        data={"csrf_token": token, "routing": "policy: human_first\nthreshold: 50\n"},
    )
    assert ok.status_code == 303
    async with hub.db.read() as session:
        config = (await load_context(session)).config
    assert (config.policy, config.threshold) == ("human_first", 50.0)
    actions = [e.action for e in await _audit(hub)]
    assert actions == ["team.created", "routing.updated"]


async def test_article_create_edit_and_errors(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    token = csrf_of((await browser.get("/console/admin/kb/new")).text)
    empty = await browser.post(
        "/console/admin/kb/new",
        data={"csrf_token": token, "slug": "gift-cards", "status": "draft", "variant_count": "1"},
    )
    assert empty.status_code == 422 and 'id="err-lang_0"' in empty.text
    bad = await browser.post(
        "/console/admin/kb/new",
        data={
            "csrf_token": token,
            "slug": "Gift Cards",
            "status": "published",
            "variant_count": "1",
            "lang_0": "en",
            "title_0": "",
            "body_0": "Cards never expire.",
        },
    )
    assert bad.status_code == 422
    assert 'id="err-slug"' in bad.text and 'id="err-title_0"' in bad.text
    made = await browser.post(
        "/console/admin/kb/new",
        data={
            "csrf_token": token,
            "slug": "gift-cards",
            "status": "published",
            "tags": "payments, Gift cards",
            "variant_count": "1",
            "lang_0": "en",
            "title_0": "Gift cards",
            "body_0": "Gift cards never expire.",
            "questions_0": "do gift cards expire\nhow long is a gift card valid",
        },
    )
    assert made.status_code == 303
    async with hub.db.read() as session:
        row = await session.scalar(select(KbArticle).where(KbArticle.slug == "gift-cards"))
        assert row is not None
        assert row.tags == ["payments", "gift cards"]
        assert [v.questions for v in row.variants] == [
            ["do gift cards expire", "how long is a gift card valid"]
        ]
        article_id = row.id
    edit = await browser.get(f"/console/admin/kb/{article_id}")
    assert "Gift cards never expire." in edit.text and "Add a language" in edit.text
    changed = await browser.post(
        f"/console/admin/kb/{article_id}",
        data={
            "csrf_token": token,
            "slug": "gift-cards",
            "status": "published",
            "tags": "payments",
            "variant_count": "2",
            "lang_0": "en",
            "title_0": "Gift cards",
            "body_0": "Gift cards never expire. Ever.",
            "lang_1": "sv",
            "title_1": "Presentkort",
            "body_1": "Presentkort går aldrig ut.",
        },
    )
    assert changed.status_code == 303
    entries = await _audit(hub)
    assert [e.action for e in entries] == ["kb_article.created", "kb_article.updated"]
    assert set(entries[1].after["variants"]) == {"en", "sv"}
    twice = await browser.post(
        f"/console/admin/kb/{article_id}",
        data={
            "csrf_token": token,
            "slug": "gift-cards",
            "status": "draft",
            "variant_count": "2",
            "lang_0": "en",
            "title_0": "A",
            "body_0": "B",
            "lang_1": "en",
            "title_1": "C",
            "body_1": "D",
        },
    )
    assert twice.status_code == 422 and "appears twice" in twice.text
    audit_page = await browser.get("/console/admin/audit")
    assert "kb_article.updated" in audit_page.text and "Ada Admin" in audit_page.text
