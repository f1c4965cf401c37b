"""The console in a real Chromium: sign in, open a journey, reply, all with the keyboard,
with a visible focus ring on every control reached; the timeline updates live.

Screenshots of each step go to test-artifacts/console-keyboard/ (not committed). Needs
Debian's Chromium at /usr/bin/chromium; without it the test skips, and with
RELAYDESK_TEST_REQUIRE=browser fails.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from tests.conftest import required
from tests.console.support import PASSWORD, WORKSPACE
from tests.helpers.workspace import apply_text

from relaydesk import migrate
from relaydesk.agents.actions import create_agent, create_token
from relaydesk.agents.passwords import hash_password
from relaydesk.app import create_app
from relaydesk.bot.runtime import DEFAULT_MODELS
from relaydesk.customers.models import Customer
from relaydesk.demo import _seed_customers
from relaydesk.hub import Hub
from relaydesk.journeys.actions import change_owner
from relaydesk.journeys.models import Journey
from relaydesk.journeys.states import JourneyOwner
from relaydesk.settings import Settings

CHROMIUM = Path(os.environ.get("RELAYDESK_TEST_CHROMIUM") or "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
EMAIL = "alice@example.com"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console-keyboard"


@dataclass
class Console:
    base: str
    token: str
    journey_id: uuid.UUID


async def _prepare(settings: Settings) -> tuple[str, uuid.UUID]:
    hub = Hub.from_settings(settings)
    try:
        await apply_text(hub, WORKSPACE)
        await hub.db.transaction(_seed_customers)
        digest = hash_password(PASSWORD)
        alice = await hub.db.transaction(
            lambda s: create_agent(s, EMAIL, name="Alice Agent", role="agent", password_hash=digest)
        )
        async with hub.db.read() as session:
            journey_id = await session.scalar(
                select(Journey.id)
                .join(Customer, Customer.id == Journey.customer_id)
                .where(Customer.name == "Maja Lindqvist", Journey.status == "open")
            )
        assert journey_id is not None
        await hub.db.transaction(
            lambda s: change_owner(
                s, journey_id, JourneyOwner.AGENT, reason="test", actor="t", agent_id=alice.id
            )
        )
        token = await hub.db.transaction(lambda s: create_token(s, "browser-test"))
        return token, journey_id
    finally:
        await hub.close()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    if not CHROMIUM.exists():
        if required("browser"):
            pytest.fail("a browser is required (RELAYDESK_TEST_REQUIRE) but Chromium is missing")
        pytest.skip(f"browser tests skipped: no {CHROMIUM} (apt-get install -y chromium)")
    url = f"sqlite:///{tmp_path / 'console.db'}"
    migrate.upgrade(url)
    settings = Settings(
        database_url=url,
        run_worker=True,
        worker_poll_interval=0.2,
        secret_key="browser-test-secret-" + "k" * 32,  # type: ignore[arg-type]
        log_level="warning",
    )
    token, journey_id = asyncio.run(_prepare(settings))
    # Train the bot's model before the server starts (as `relaydesk serve` does at launch):
    # training in this process while the browser drives it starves both of the GIL.
    DEFAULT_MODELS.start().result(timeout=600)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the console server did not start")
        time.sleep(0.05)
    try:
        yield Console(f"http://127.0.0.1:{port}", token, journey_id)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


FOCUS_RING = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {tag: el.tagName, id: el.id, text: (el.textContent || "").trim().slice(0, 40),
          outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
}"""


def tab_to(page: Any, matches: Any, limit: int = 80) -> dict[str, Any]:
    """Press Tab until ``matches(focused)``; assert each stop shows a visible focus ring."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused: dict[str, Any] = page.evaluate(FOCUS_RING)
        if focused["tag"] in ("A", "BUTTON", "INPUT", "SELECT", "TEXTAREA"):
            assert focused["outline"] != "none" and focused["width"] >= 2, focused
        if matches(focused):
            return focused
    raise AssertionError("never reached the control with the keyboard")


def test_sign_in_open_a_journey_and_reply_with_the_keyboard(console: Console) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = ARTIFACTS
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()  # this run's steps only
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on(
                "console",
                lambda message: errors.append(message.text) if message.type == "error" else None,
            )
            page.goto(f"{console.base}/console")
            assert "/console/login?next=%2Fconsole" in page.url
            expect(page.locator("#email")).to_be_focused()  # autofocus
            page.keyboard.type(EMAIL)
            focused = tab_to(page, lambda f: f["id"] == "password")
            page.keyboard.type(PASSWORD)
            page.screenshot(path=str(shots / "1-sign-in.png"))
            page.keyboard.press("Enter")
            page.wait_for_url(f"{console.base}/console")
            expect(page.locator("#live-status")).to_have_text("Live")
            page.screenshot(path=str(shots / "2-inbox.png"))

            focused = tab_to(page, lambda f: f["tag"] == "A" and f["text"] == "Maja Lindqvist")
            page.screenshot(path=str(shots / "3-inbox-focus.png"))
            page.keyboard.press("Enter")
            page.wait_for_url(f"{console.base}/console/journeys/{console.journey_id}")
            expect(page.locator("#live-status")).to_have_text("Live")
            expect(page.locator(".customer")).to_contain_text("Trail running shoes")

            focused = tab_to(page, lambda f: f["id"] == "reply-text")
            page.keyboard.type("Your parcel left our warehouse today.")
            page.screenshot(path=str(shots / "4-composer-focus.png"))
            focused = tab_to(page, lambda f: f["tag"] == "BUTTON" and f["text"] == "Send reply")
            assert focused["width"] >= 2
            page.keyboard.press("Enter")
            page.wait_for_url(f"**/console/journeys/{console.journey_id}?sent=reply#composer")
            expect(page.locator(".notice")).to_have_text("Reply queued for delivery.")
            expect(page.locator("#timeline")).to_contain_text(
                "Your parcel left our warehouse today."
            )
            expect(page.locator("#live-status")).to_have_text("Live")

            # the customer writes again: the open page shows it without a reload
            posted = httpx.post(
                f"{console.base}/api/v1/messages",
                headers={"Authorization": f"Bearer {console.token}"},
                json={
                    "channel": "mobile-app",
                    "external_id": "browser-live-1",
                    "sender": {"email": "maja.lindqvist@example.se"},
                    "text": "Thank you, I will watch for it!",
                },
                timeout=10,
            )
            assert posted.status_code in (200, 201, 202), posted.text
            expect(page.locator("#timeline")).to_contain_text(
                "Thank you, I will watch for it!",
                timeout=30_000,  # other listeners run first
            )
            page.screenshot(path=str(shots / "5-replied-and-live.png"), full_page=True)
        finally:
            browser.close()
    print(f"console screenshots: {shots}")
    assert sorted(p.name for p in shots.iterdir()) == [
        "1-sign-in.png",
        "2-inbox.png",
        "3-inbox-focus.png",
        "4-composer-focus.png",
        "5-replied-and-live.png",
    ]
    assert errors == []
