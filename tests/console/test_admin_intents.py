"""The intents pages: the effective intents (pack + the workspace's ``bot:`` section); an
admin changes one intent or adds one, checked with ``BotSpec`` and the articles, stored as
``relaydesk apply`` stores the section (the model trains again), audited by intent."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.console.conftest import MakeAgent
from tests.console.support import csrf_of, sign_in
from tests.helpers.workspace import apply_text

from relaydesk.audit.models import AuditEntry
from relaydesk.bot.queries import intents_definition
from relaydesk.bot.runtime import DEFAULT_MODELS
from relaydesk.hub import Hub

LIST = "/console/admin/intents"
ORDER = "/console/admin/intents/order_status"
NEW = "/console/admin/intents/new"
GIFT_CARDS = "\n".join(
    [
        "do gift cards expire",
        "how long is my gift card valid",
        "can I pay with a gift card",
        "my gift card code does not work",
        "where do I buy a gift card",
    ]
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


async def _stored(hub: Hub) -> tuple[str, dict[str, Any]] | None:
    async with hub.db.read() as session:
        return await intents_definition(session)


async def test_change_a_pack_intent(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    listing = await browser.get(LIST)
    assert f'href="{ORDER}"' in listing.text and 'href="/console/admin/intents/new"' in listing.text
    page = await browser.get(ORDER)
    assert page.status_code == 200 and 'value="order-status"' in page.text
    token = csrf_of(page.text)
    # the form as shown changes nothing: no section is stored, nothing audited
    same = await browser.post(
        ORDER, data={"csrf_token": token, "bot_may_resolve": "on", "article": "order-status"}
    )
    assert same.headers["location"] == f"{LIST}?saved=0" and await _stored(hub) is None
    saved = await browser.post(
        ORDER,
        data={
            "csrf_token": token,
            "article": "order-status",
            "examples_en": "where on earth is my parcel\nwhere on earth is my parcel",
            "examples_sv": "var i hela friden är mitt paket",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{LIST}?saved=updated"
    stored = await _stored(hub)
    assert stored is not None
    version, section = stored
    assert section["intents"] == {
        "order_status": {
            "bot_may_resolve": False,
            "examples": {
                "en": ["where on earth is my parcel"],
                "sv": ["var i hela friden är mitt paket"],
            },
        }
    }
    assert DEFAULT_MODELS.known(version) is not None  # training started, as after an apply
    [entry] = await _audit(hub)
    assert (entry.action, entry.target_kind, entry.target, entry.actor_name) == (
        "intent.updated",
        "intent",
        "order_status",
        "Ada Admin",
    )
    assert entry.before["bot_may_resolve"] is True and entry.after["bot_may_resolve"] is False
    assert entry.after["added_examples"] == {
        "en": ["where on earth is my parcel"],
        "sv": ["var i hela friden är mitt paket"],
    }
    listing = await browser.get(f"{LIST}?saved=updated")
    assert "Intent saved." in listing.text and "pack, changed by the workspace" in listing.text
    assert "relaydesk apply" in listing.text
    # an example it already has is skipped: nothing to change
    again = await browser.post(
        ORDER,
        data={
            "csrf_token": token,
            "article": "order-status",
            "examples_en": "where on earth is my parcel",
        },
    )
    assert again.headers["location"] == f"{LIST}?saved=0" and len(await _audit(hub)) == 1
    audit = await browser.get("/console/admin/audit?kind=intent")
    assert '<option value="intent" selected>' in audit.text and "intent.updated" in audit.text


async def test_bad_input_writes_nothing(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await sign_in(browser, "ada@example.com")
    token = csrf_of((await browser.get(NEW)).text)
    no_article = await browser.post(
        ORDER, data={"csrf_token": token, "bot_may_resolve": "on", "article": "no-such-article"}
    )
    assert no_article.status_code == 422 and 'id="err-article"' in no_article.text
    assert "no knowledge-base article" in no_article.text
    assert 'value="no-such-article"' in no_article.text  # what was typed is kept
    few = await browser.post(
        NEW, data={"csrf_token": token, "id": "gift_cards", "examples_en": "gift card\nvoucher"}
    )
    assert few.status_code == 422 and 'id="err-examples"' in few.text
    assert "at least 5 examples" in few.text
    bad_id = await browser.post(
        NEW, data={"csrf_token": token, "id": "Gift Cards", "examples_en": GIFT_CARDS}
    )
    assert bad_id.status_code == 422 and 'id="err-id"' in bad_id.text
    assert "lower-case letters" in bad_id.text
    taken = await browser.post(
        NEW, data={"csrf_token": token, "id": "billing", "examples_en": GIFT_CARDS}
    )
    assert taken.status_code == 422 and 'id="err-id"' in taken.text and "exists" in taken.text
    assert (
        await browser.post("/console/admin/intents/nope", data={"csrf_token": token})
    ).status_code == 404
    assert await _stored(hub) is None
    assert await _audit(hub) == []


async def test_new_intent_extends_the_workspace_section(
    hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    await apply_text(
        hub,
        """
version: 1
bot:
  intents:
    billing:
      bot_may_resolve: false
""",
    )
    await sign_in(browser, "ada@example.com")
    listing = await browser.get(LIST)
    assert "pack, changed by the workspace" in listing.text
    token = csrf_of(listing.text)
    made = await browser.post(
        NEW,
        data={
            "csrf_token": token,
            "id": "gift_cards",
            "bot_may_resolve": "on",
            "article": "billing-and-payments",
            "examples_en": GIFT_CARDS,
        },
    )
    assert made.status_code == 303 and made.headers["location"] == f"{LIST}?saved=created"
    stored = await _stored(hub)
    assert stored is not None
    intents = stored[1]["intents"]
    assert intents["billing"] == {"bot_may_resolve": False}  # the applied part is kept
    assert intents["gift_cards"]["article"] == "billing-and-payments"
    assert len(intents["gift_cards"]["examples"]["en"]) == 5
    [entry] = await _audit(hub)
    assert (entry.action, entry.target) == ("intent.created", "gift_cards")
    assert entry.after["examples"] == {"en": 5} and entry.after["bot_may_resolve"] is True
    listing = await browser.get(LIST)
    assert 'href="/console/admin/intents/gift_cards"' in listing.text
    assert re.search(r"gift_cards</a></td><td[^>]*>workspace<", listing.text)


async def test_roles_and_csrf(hub: Hub, browser: httpx.AsyncClient, people: dict[str, Any]) -> None:
    await sign_in(browser, "alice@example.com")
    for path in (LIST, ORDER, NEW):
        assert (await browser.get(path)).status_code == 403, path
    browser.cookies.clear()
    await sign_in(browser, "sam@example.com")
    for path in (LIST, ORDER, NEW):
        page = await browser.get(path)
        assert page.status_code == 200, path
        assert not re.search(r'<button type="submit"[^>]*>(Save|Create)', page.text), path
    page = await browser.get(ORDER)
    assert re.search(r'id="article"[^>]* disabled', page.text)
    token = csrf_of(page.text)
    assert (await browser.post(ORDER, data={"csrf_token": token})).status_code == 403
    sneaky = {"csrf_token": token, "id": "gift_cards", "examples_en": GIFT_CARDS}
    assert (await browser.post(NEW, data=sneaky)).status_code == 403
    browser.cookies.clear()
    await sign_in(browser, "ada@example.com")
    for path in (ORDER, NEW):
        assert (
            await browser.post(path, data={**sneaky, "csrf_token": "forged"})
        ).status_code == 403
    assert await _stored(hub) is None
    assert await _audit(hub) == []
