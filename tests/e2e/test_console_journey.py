"""The whole first five minutes in real Chromium: a customer on a shop page asks the widget's
bot a question it answers from the knowledge base, then asks for a person; an agent signed
in to the console gets the offer live, accepts, sees the handoff card and the customer's
orders, replies; the customer sees the reply in the widget; the agent resolves. And: two
agents online, one declines, the other gets the offer.

Screenshots of each step go to test-artifacts/console-e2e/. Needs Debian's Chromium at
/usr/bin/chromium; without it these tests skip, with RELAYDESK_TEST_REQUIRE=browser they fail.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from tests.conftest import required
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

CHROMIUM = Path(os.environ.get("RELAYDESK_TEST_CHROMIUM") or "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console-e2e"
PASSWORD = "correct horse battery"
SECRET = "console-e2e-secret-" + "k" * 32
AGENTS = {"ada@example.com": "Ada Agent", "bo@example.com": "Bo Agent"}
LIVE = 30_000
"""ms to wait for something to arrive live (the worker runs listeners first)."""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass
class Stack:
    hub: str
    shop: str
    api: httpx.Client


def _workspace(shop: str) -> str:
    agents = "\n".join(
        f"  - email: {email}\n    name: {name}\n    teams: [support]"
        for email, name in AGENTS.items()
    )
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
      title: Northwind help
      greeting: Hi! Ask us anything.
teams:
  - name: support
agents:
{agents}
routing:
  policy: bot_first
  offer_timeout: 5m
"""


async def _prepare(settings: Settings, shop: str, online: list[str]) -> str:
    hub = Hub.from_settings(settings)
    try:
        await apply_text(hub, _workspace(shop))
        digest = hash_password(PASSWORD)
        for email in AGENTS:
            await hub.db.transaction(lambda s, e=email: set_password(s, e, digest))
        async with hub.db.read() as session:
            from sqlalchemy import select

            ids = {a.email: a.id for a in (await session.scalars(select(Agent))).all()}
        for email in online:
            await hub.db.transaction(
                lambda s, e=email: set_presence(s, ids[e], "online", actor="test")
            )
        return await hub.db.transaction(lambda s: create_token(s, "shop-backend"))
    finally:
        await hub.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if required("browser"):
            pytest.fail("a browser is required (RELAYDESK_TEST_REQUIRE) but Chromium is missing")
        pytest.skip(f"browser tests skipped: no {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    # Train the bot's model before any server starts (as `relaydesk serve` does at launch).
    DEFAULT_MODELS.start().result(timeout=600)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def _stack(tmp_path: Path, online: list[str]) -> Iterator[Stack]:
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
        "<title>Northwind shop</title>"
        "</head><body><h1>Northwind Outfitters</h1><p>Jackets, boots and packs.</p>"
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
        return asyncio.run(_prepare(settings, shop_url, online))

    # Playwright's sync API keeps an event loop on this thread: set up on another one.
    with ThreadPoolExecutor(1) as pool:
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


@pytest.fixture
def one_agent(chromium: Any, tmp_path: Path) -> Iterator[Stack]:
    yield from _stack(tmp_path, ["ada@example.com"])


@pytest.fixture
def two_agents(chromium: Any, tmp_path: Path) -> Iterator[Stack]:
    yield from _stack(tmp_path, list(AGENTS))


def _shot(page: Any, name: str, *, top: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if top:  # the journey view scrolls to the newest message; show its head instead
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _watch(page: Any, errors: list[str]) -> Any:
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    return page


def _agent_page(chromium: Any, stack: Stack, email: str, errors: list[str]) -> Any:
    page = _watch(chromium.new_context(viewport={"width": 1280, "height": 900}).new_page(), errors)
    page.goto(f"{stack.hub}/console")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{stack.hub}/console")
    from playwright.sync_api import expect

    expect(page.locator("#live-status")).to_have_text("Live")
    return page


def _customer_page(chromium: Any, stack: Stack, errors: list[str]) -> Any:
    context = chromium.new_context(viewport={"width": 1100, "height": 800})
    page = _watch(context.new_page(), errors)
    page.goto(f"{stack.shop}/index.html")
    page.locator(".launcher").wait_for(state="visible")
    page.get_by_role("button", name="Open chat").click()
    return page


def _say(page: Any, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def test_widget_bot_person_agent_reply_resolve(chromium: Any, one_agent: Stack) -> None:
    from playwright.sync_api import expect

    stack = one_agent
    errors: list[str] = []
    agent = _agent_page(chromium, stack, "ada@example.com", errors)
    _shot(agent, "1-agent-inbox")

    customer = _customer_page(chromium, stack, errors)
    _say(customer, "How long does delivery take?")
    answer = customer.locator(".from-bot .bubble", has_text="business days")
    answer.first.wait_for(timeout=LIVE)
    _shot(customer, "2-bot-answers-from-the-kb")

    # The shop's backend records the visitor's purchase (as an integration would).
    stored = json.loads(customer.evaluate("localStorage.getItem('relaydesk:chat:token')"))
    visitor = tokens.read(SECRET, "chat", stored)
    assert visitor is not None
    found = stack.api.get("/customers", params={"handle": visitor, "channel": "chat"}).json()
    found = found["items"]
    assert len(found) == 1
    customer_id = found[0]["id"]
    order = stack.api.post(
        f"/customers/{customer_id}/orders",
        json={
            "id": "ORD-1042",
            "items": [{"name": "Stig hiking boots", "quantity": 1, "price": "159.00"}],
            "amount": "159.00",
            "currency": "EUR",
            "date": "2026-11-30T10:00:00+00:00",
        },
    )
    assert order.status_code == 201, order.text

    _say(customer, "I want to talk to a person please")
    offer = agent.locator(".offer")
    expect(offer).to_have_count(1, timeout=LIVE)  # live: no reload
    _shot(customer, "3-customer-asks-for-a-person")
    _shot(agent, "4-agent-gets-the-offer-live")
    offer.get_by_role("button", name="Accept").click()
    agent.wait_for_url("**/console/journeys/*")
    expect(agent.locator("#handoff-title")).to_be_visible()
    expect(agent.locator(".handoff")).to_contain_text("asked for a person", ignore_case=True)
    expect(agent.locator(".customer")).to_contain_text("Stig hiking boots")
    _shot(agent, "5-agent-sees-handoff-and-orders", top=True)

    agent.locator("#reply-text").fill("Hi, I'm Ada. Your boots ship today!")
    agent.get_by_role("button", name="Send reply").click()
    expect(agent.locator(".notice")).to_have_text("Reply queued for delivery.")
    reply = customer.locator(".from-agent .bubble", has_text="Your boots ship today!")
    reply.wait_for(timeout=LIVE)
    reply.scroll_into_view_if_needed()
    _shot(customer, "6-customer-sees-the-reply")

    agent.locator("#outcome").select_option("resolved")
    agent.get_by_role("button", name="Resolve").click()
    expect(agent.locator(".meta .status")).to_have_text("resolved", timeout=LIVE)
    _shot(agent, "7-agent-resolved", top=True)
    journey_id = agent.url.split("/console/journeys/")[1].split("?")[0].split("#")[0]
    journey = stack.api.get(f"/journeys/{journey_id}").json()
    assert (journey["status"], journey["customer_id"]) == ("resolved", customer_id), journey
    assert errors == []


def test_one_agent_declines_the_other_gets_the_offer(chromium: Any, two_agents: Stack) -> None:
    from playwright.sync_api import expect

    stack = two_agents
    errors: list[str] = []
    pages = {email: _agent_page(chromium, stack, email, errors) for email in AGENTS}
    customer = _customer_page(chromium, stack, errors)
    _say(customer, "I need to talk to a human")

    deadline = time.monotonic() + LIVE / 1000
    first = None
    while first is None:
        for email, page in pages.items():
            if page.locator(".offer").count():
                first = email
        if time.monotonic() > deadline:
            raise AssertionError("no agent got the offer")
        time.sleep(0.2)
    other = next(e for e in AGENTS if e != first)
    expect(pages[other].locator(".offer")).to_have_count(0)
    _shot(pages[first], "8-first-agent-offered")
    pages[first].locator(".offer").get_by_role("button", name="Decline").click()
    expect(pages[first].locator(".offer")).to_have_count(0)
    expect(pages[other].locator(".offer")).to_have_count(1, timeout=LIVE)  # live, re-offered
    _shot(pages[other], "9-second-agent-offered-after-decline")
    pages[other].locator(".offer").get_by_role("button", name="Accept").click()
    pages[other].wait_for_url("**/console/journeys/*")
    expect(pages[other].locator(".meta")).to_contain_text(AGENTS[other])
    assert errors == []
