"""The skills page: admins set levels per agent and skill and add a skill column; each
changed agent is saved through ``update_agent`` (own audit entry), unchanged ones not at all;
bad names and levels are refused by the field with nothing written."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.console.conftest import MakeAgent
from tests.console.support import csrf_of, sign_in

from relaydesk.agents.models import Agent
from relaydesk.audit.models import AuditEntry
from relaydesk.hub import Hub

PATH = "/console/admin/skills"
HIDDEN = re.compile(r'<input type="hidden" name="((?:agent|skill)_\w+)" value="([^"]*)"')
SELECT = re.compile(r'<select id="(level_\w+)"[^>]*>(.*?)</select>', re.S)
CHOSEN = re.compile(r'<option value="([^"]*)" selected>')


@pytest.fixture
async def people(hub: Hub, seeded: None, make_agent: MakeAgent) -> dict[str, Any]:
    return {
        "admin": await make_agent("ada@example.com", name="Ada Admin", role="admin"),
        "sam": await make_agent("sam@example.com", name="Sam Supervisor", role="supervisor"),
        "alice": await make_agent("alice@example.com", name="Alice Agent"),
    }


def form_of(html: str) -> dict[str, str]:
    """What the page would post as it is: hidden fields and each select's chosen level."""
    form = dict(HIDDEN.findall(html))
    for name, options in SELECT.findall(html):
        chosen = CHOSEN.search(options)
        form[name] = chosen.group(1) if chosen else ""
    form["csrf_token"] = csrf_of(html)
    form["new_skill"] = ""
    return form


def row_of(form: dict[str, str], agent_id: Any) -> int:
    [index] = [k for k, v in form.items() if k.startswith("agent_") and v == str(agent_id)]
    return int(index.removeprefix("agent_"))


async def _audit(hub: Hub) -> list[AuditEntry]:
    async with hub.db.read() as session:
        return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


async def _skills(hub: Hub) -> dict[str, dict[str, int]]:
    async with hub.db.read() as session:
        return {a.email: dict(a.skills) for a in (await session.scalars(select(Agent))).all()}


async def test_add_a_skill_then_change_levels(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    page = await browser.get(PATH)
    assert page.status_code == 200 and 'id="new_skill"' in page.text
    form = form_of(page.text)
    alice, ada = row_of(form, people["alice"]), row_of(form, people["admin"])
    form.update({"new_skill": "billing", f"level_{alice}_new": "2"})
    saved = await browser.post(PATH, data=form)
    assert saved.status_code == 303 and saved.headers["location"] == f"{PATH}?saved=1"
    skills = await _skills(hub)
    assert skills["alice@example.com"] == {"billing": 2}
    assert skills["ada@example.com"] == {} and skills["wendy@example.com"] == {}
    [entry] = await _audit(hub)
    assert (entry.action, entry.target, entry.actor_name) == (
        "agent.updated",
        "alice@example.com",
        "Ada Admin",
    )
    assert entry.before["skills"] == {} and entry.after["skills"] == {"billing": 2}
    assert set(entry.after) == {"skills"}  # only what changed is recorded

    page = await browser.get(f"{PATH}?saved=1")
    assert "Skills saved (1 changed)." in page.text and ">billing</th>" in page.text
    form = form_of(page.text)
    assert form[f"level_{alice}_0"] == "2"
    form.update({f"level_{alice}_0": "", f"level_{ada}_0": "3"})
    assert (await browser.post(PATH, data=form)).headers["location"] == f"{PATH}?saved=2"
    skills = await _skills(hub)
    assert skills["alice@example.com"] == {} and skills["ada@example.com"] == {"billing": 3}
    entries = await _audit(hub)
    assert sorted(e.target for e in entries[1:]) == ["ada@example.com", "alice@example.com"]
    # the page posted as it is: nobody is written, nothing audited
    same = await browser.post(PATH, data=form_of((await browser.get(PATH)).text))
    assert same.headers["location"] == f"{PATH}?saved=0" and len(await _audit(hub)) == 3


async def test_bad_names_and_levels_write_nothing(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    form = form_of((await browser.get(PATH)).text)
    alice = row_of(form, people["alice"])
    bad_name = await browser.post(
        PATH, data={**form, "new_skill": "Bad Name", f"level_{alice}_new": "1"}
    )
    assert bad_name.status_code == 422 and 'id="err-new_skill"' in bad_name.text
    assert "lower-case letters" in bad_name.text
    assert 'value="Bad Name"' in bad_name.text  # what was typed is kept
    nobody = await browser.post(PATH, data={**form, "new_skill": "returns"})
    assert nobody.status_code == 422 and "at least one agent" in nobody.text
    too_high = await browser.post(
        PATH, data={**form, "new_skill": "returns", f"level_{alice}_new": "7"}
    )
    assert too_high.status_code == 422 and f'id="err-level_{alice}_new"' in too_high.text
    assert "less than or equal to 3" in too_high.text
    word = await browser.post(
        PATH, data={**form, "new_skill": "returns", f"level_{alice}_new": "expert"}
    )
    assert word.status_code == 422 and f'id="err-level_{alice}_new"' in word.text
    assert all(not s for s in (await _skills(hub)).values())
    assert await _audit(hub) == []


async def test_roles_and_csrf(hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]) -> None:
    await sign_in(browser, "alice@example.com")
    assert (await browser.get(PATH)).status_code == 403
    browser.cookies.clear()
    await sign_in(browser, "sam@example.com")
    page = await browser.get(PATH)
    assert page.status_code == 200 and "only admins change them" in page.text
    assert "Save skills" not in page.text and 'id="new_skill"' in page.text
    assert re.search(r'id="new_skill"[^>]* disabled', page.text)
    form = form_of(page.text)
    alice = row_of(form, people["alice"])
    sneaky = {**form, "new_skill": "billing", f"level_{alice}_new": "3"}
    assert (await browser.post(PATH, data=sneaky)).status_code == 403
    browser.cookies.clear()
    await sign_in(browser, "ada@example.com")
    forged = {**sneaky, "csrf_token": "forged"}
    assert (await browser.post(PATH, data=forged)).status_code == 403
    assert all(not s for s in (await _skills(hub)).values())
    assert await _audit(hub) == []
