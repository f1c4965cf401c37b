"""The composer in real Chromium: a customer asks the widget for a person; the agent takes
the offer, picks a canned reply whose {variables} fill in for this customer, edits it and
sends it; writes an internal note. The customer's widget shows the reply and never the note
(nor does it after a reload, nor the customer API's timeline).

Screenshots go to test-artifacts/console-composer/. Needs Debian's Chromium at
/usr/bin/chromium; without it the test skips, with RELAYDESK_TEST_REQUIRE=browser it fails.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from tests.conftest import required
from tests.e2e.test_console_journey import (
    ARGS,
    CHROMIUM,
    LIVE,
    PASSWORD,
    SECRET,
    QuietHandler,
    Stack,
    _agent_page,
    _customer_page,
    _say,
)
from tests.helpers.workspace import apply_text

from relaydesk import migrate
from relaydesk.agents.actions import create_token, set_password
from relaydesk.agents.models import Agent
from relaydesk.agents.passwords import hash_password
from relaydesk.app import create_app
from relaydesk.bot.runtime import DEFAULT_MODELS
from relaydesk.channels.webchat import tokens
from relaydesk.hub import Hub
from relaydesk.routing.actions import set_presence
from relaydesk.settings import Settings

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console-composer"
NOTE = "Internal: goodwill voucher approved by Sam"


def _workspace(shop: str) -> str:
    return f"""
version: 1
settings:
  name: Northwind
  currency: EUR
  timezone: Europe/Stockholm
channels:
  - name: chat
    kind: webchat
    settings:
      allowed_origins: ["{shop}"]
teams:
  - name: support
agents:
  - email: ada@example.com
    name: Ada Agent
    teams: [support]
routing:
  policy: bot_first
  offer_timeout: 5m
canned_replies:
  - name: greeting
    title: Personal greeting
    texts:
      en: "Hi {{customer.first_name}}, I'm {{agent.first_name}} and I'll sort this out."
"""


async def _prepare(settings: Settings, shop: str) -> str:
    hub = Hub.from_settings(settings)
    try:
        await apply_text(hub, _workspace(shop))
        await hub.db.transaction(
            lambda s: set_password(s, "ada@example.com", hash_password(PASSWORD))
        )
        async with hub.db.read() as session:
            ada = await session.scalar(select(Agent.id).where(Agent.email == "ada@example.com"))
        assert ada is not None
        await hub.db.transaction(lambda s: set_presence(s, ada, "online", actor="test"))
        return await hub.db.transaction(lambda s: create_token(s, "shop-backend"))
    finally:
        await hub.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    if not CHROMIUM.exists():
        if required("browser"):
            pytest.fail("a browser is required (RELAYDESK_TEST_REQUIRE) but Chromium is missing")
        pytest.skip(f"browser tests skipped: no {CHROMIUM} (apt-get install -y chromium)")
    DEFAULT_MODELS.start().result(timeout=600)  # train before the server starts
    shop_dir = tmp_path / "shop"
    shop_dir.mkdir()
    shop = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(shop_dir))
    )
    threading.Thread(target=shop.serve_forever, daemon=True).start()
    shop_url = f"http://127.0.0.1:{shop.server_address[1]}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    hub_url = f"http://127.0.0.1:{port}"
    (shop_dir / "index.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><link rel=icon href='data:,'>"
        "<title>Northwind shop</title></head><body><h1>Northwind</h1>"
        f'<script src="{hub_url}/widget.js" data-channel="chat" async></script></body></html>'
    )
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    settings = Settings(
        database_url=url,
        run_worker=True,
        worker_poll_interval=0.2,
        secret_key=SECRET,  # type: ignore[arg-type]
        log_level="warning",
    )

    def prepare() -> str:
        migrate.upgrade(url)
        return asyncio.run(_prepare(settings, shop_url))

    with ThreadPoolExecutor(1) as pool:  # Playwright keeps an event loop on this thread
        token = pool.submit(prepare).result(timeout=300)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the hub did not start")
        time.sleep(0.05)
    try:
        with httpx.Client(
            base_url=f"{hub_url}/api/v1", headers={"Authorization": f"Bearer {token}"}
        ) as api:
            yield Stack(hub_url, shop_url, api)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        shop.shutdown()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_canned_reply_with_a_variable_and_a_note_that_stays_internal(stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            agent = _agent_page(chromium, stack, "ada@example.com", errors)
            customer = _customer_page(chromium, stack, errors)
            _say(customer, "I want to talk to a person please")
            stored = json.loads(customer.evaluate("localStorage.getItem('relaydesk:chat:token')"))
            visitor = tokens.read(SECRET, "chat", stored)
            assert visitor is not None
            # The widget sends in the background: wait until the hub has stored the message.
            deadline = time.monotonic() + 15
            while True:
                found = stack.api.get("/customers", params={"handle": visitor, "channel": "chat"})
                items = found.json()["items"]
                if items or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            [record] = items
            named = stack.api.patch(f"/customers/{record['id']}", json={"name": "Maja Lindqvist"})
            assert named.status_code == 200, named.text

            offer = agent.locator(".offer")
            expect(offer).to_have_count(1, timeout=LIVE)
            offer.get_by_role("button", name="Accept").click()
            agent.wait_for_url("**/console/journeys/*")

            # the canned reply, filled in place, then edited before sending
            agent.get_by_label("Canned reply").select_option("greeting")
            box = agent.locator("#reply-text")
            expect(box).to_have_value("Hi Maja, I'm Ada and I'll sort this out.")
            box.press("End")
            box.type(" Your voucher is on its way.")
            # the customer sees that support is typing (never what)
            expect(customer.locator(".typing")).to_be_visible(timeout=LIVE)
            assert "voucher" not in customer.content()
            _shot(agent, "1-canned-reply-filled-and-edited")

            # an internal note, marked as such on the timeline
            agent.get_by_label("Note for agents (never sent to the customer)").fill(NOTE)
            agent.get_by_role("button", name="Add note").click()
            expect(agent.locator("#timeline .msg.note")).to_contain_text(NOTE)
            expect(agent.locator("#timeline .msg.note .tag")).to_have_text("internal note")
            _shot(agent, "2-internal-note-on-the-timeline")
            # the note's reload kept the unsent reply draft
            expect(agent.locator("#reply-text")).to_have_value(
                "Hi Maja, I'm Ada and I'll sort this out. Your voucher is on its way."
            )

            agent.locator("#reply-text").fill(
                "Hi Maja, I'm Ada and I'll sort this out. Your voucher is on its way."
            )
            agent.get_by_role("button", name="Send reply").click()
            expect(agent.locator(".notice")).to_have_text("Reply queued for delivery.")

            reply = customer.locator(".from-agent .bubble", has_text="Your voucher is on its way.")
            reply.wait_for(timeout=LIVE)
            assert "Hi Maja, I'm Ada" in reply.inner_text()
            _shot(customer, "3-customer-sees-the-reply-not-the-note")
            assert NOTE not in customer.content()
            customer.reload()
            history = customer.locator(".from-agent .bubble", has_text="voucher")
            history.wait_for(state="attached", timeout=LIVE)  # the widget reloaded its history
            assert NOTE not in customer.content()  # nor in the history the widget reloads
            timeline = stack.api.get(f"/customers/{record['id']}/timeline")
            assert timeline.status_code == 200 and NOTE not in timeline.text
        finally:
            chromium.close()
    assert errors == []
