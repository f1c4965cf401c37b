"""The canned replies admin page: admins create, edit and delete (validated like the
workspace file, an unknown {variable} refused by its field, audited); supervisors read;
agents get the 403 page; nothing is written by a bad form."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from tests.console.conftest import MakeAgent
from tests.console.support import csrf_of, sign_in

from relaydesk.audit.models import AuditEntry
from relaydesk.canned.models import CannedReply
from relaydesk.hub import Hub


@pytest.fixture
async def people(hub: Hub, seeded: None, make_agent: MakeAgent) -> dict[str, Any]:
    return {
        "admin": await make_agent("ada@example.com", name="Ada Admin", role="admin"),
        "sam": await make_agent("sam@example.com", name="Sam Supervisor", role="supervisor"),
        "alice": await make_agent("alice@example.com", name="Alice Agent"),
    }


async def _rows(hub: Hub) -> list[CannedReply]:
    async with hub.db.read() as session:
        return list((await session.scalars(select(CannedReply))).all())


def form(**overrides: str) -> dict[str, str]:
    return {
        "name": "welcome",
        "title": "Welcome",
        "text_count": "2",
        "lang_0": "en",
        "text_0": "Hi {customer.first_name}, I'm {agent.first_name}.",
        "lang_1": "sv",
        "text_1": "Hej {customer.first_name}!",
        **overrides,
    }


async def test_an_admin_creates_edits_and_deletes_with_audit(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    new = await browser.get("/console/admin/canned/new")
    assert new.status_code == 200 and "{customer.first_name}" in new.text
    token = csrf_of(new.text)
    created = await browser.post("/console/admin/canned/new", data={"csrf_token": token, **form()})
    assert created.status_code == 303
    [row] = await _rows(hub)
    assert row.texts == {
        "en": "Hi {customer.first_name}, I'm {agent.first_name}.",
        "sv": "Hej {customer.first_name}!",
    }
    assert created.headers["location"] == f"/console/admin/canned/{row.id}?saved=1"
    listed = await browser.get("/console/admin/canned")
    assert "Welcome" in listed.text and "en, sv" in listed.text
    edited = await browser.post(
        f"/console/admin/canned/{row.id}",
        data={"csrf_token": token, **form(title="Hello", text_1="")},  # drop Swedish
    )
    assert edited.status_code == 303
    [row] = await _rows(hub)
    assert row.title == "Hello" and set(row.texts) == {"en"}
    deleted = await browser.post(
        f"/console/admin/canned/{row.id}/delete", data={"csrf_token": token}
    )
    assert deleted.status_code == 303 and await _rows(hub) == []
    async with hub.db.read() as session:
        actions = [
            (e.action, e.actor_name)
            for e in (
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.target_kind == "canned_reply")
                    .order_by(AuditEntry.created_at, AuditEntry.id)
                )
            ).all()
        ]
    assert actions == [
        ("canned_reply.created", "Ada Admin"),
        ("canned_reply.updated", "Ada Admin"),
        ("canned_reply.deleted", "Ada Admin"),
    ]
    audit = await browser.get("/console/admin/audit", params={"kind": "canned_reply"})
    assert "canned_reply.deleted" in audit.text


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"text_0": "Hi {customer.nickname}"}, "text_0", "unknown variable {customer.nickname}"),
        ({"text_1": "Hej {"}, "text_1", "a lone &#39;{&#39;"),
        ({"name": "Not A Slug"}, "name", "String should match pattern"),
        ({"title": "  "}, "title", "a title is needed"),
        ({"lang_1": "en"}, "lang_1", "&#39;en&#39; appears twice"),
        ({"lang_1": "swedish"}, "lang_1", "String should match pattern"),
        ({"lang_1": ""}, "lang_1", "give the language code"),
        (
            {"text_0": "", "text_1": "", "lang_0": "", "lang_1": ""},
            "text_0",
            "give at least one text",
        ),
    ],
)
async def test_bad_forms_show_the_error_by_the_field_and_write_nothing(
    hub: Hub,
    browser: httpx.AsyncClient,
    people: dict[str, Any],
    overrides: dict[str, str],
    field: str,
    message: str,
) -> None:
    await sign_in(browser, "ada@example.com")
    token = csrf_of((await browser.get("/console/admin/canned/new")).text)
    answer = await browser.post(
        "/console/admin/canned/new", data={"csrf_token": token, **form(**overrides)}
    )
    assert answer.status_code == 422
    error = answer.text.split(f'id="err-{field}">')[1].split("</p>")[0]
    assert message in error
    assert "Nothing was saved" in answer.text
    assert await _rows(hub) == []


async def test_a_taken_name_is_refused(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    token = csrf_of((await browser.get("/console/admin/canned/new")).text)
    await browser.post("/console/admin/canned/new", data={"csrf_token": token, **form()})
    again = await browser.post(
        "/console/admin/canned/new", data={"csrf_token": token, **form(title="Other")}
    )
    assert again.status_code == 422 and "another canned reply has this name" in again.text
    assert len(await _rows(hub)) == 1


async def test_roles_and_csrf(hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]) -> None:
    await sign_in(browser, "alice@example.com")
    assert (await browser.get("/console/admin/canned")).status_code == 403
    token = csrf_of((await browser.get("/console")).text)
    refused = await browser.post("/console/admin/canned/new", data={"csrf_token": token, **form()})
    assert refused.status_code == 403
    browser.cookies.clear()
    await sign_in(browser, "sam@example.com")
    page = await browser.get("/console/admin/canned/new")
    assert page.status_code == 200 and " disabled" in page.text
    token = csrf_of(page.text)
    refused = await browser.post("/console/admin/canned/new", data={"csrf_token": token, **form()})
    assert refused.status_code == 403
    browser.cookies.clear()
    await sign_in(browser, "ada@example.com")
    no_csrf = await browser.post("/console/admin/canned/new", data=form())
    assert no_csrf.status_code == 403
    missing = await browser.get("/console/admin/canned/not-an-id")
    assert missing.status_code == 404
    async with hub.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(CannedReply)) == 0
