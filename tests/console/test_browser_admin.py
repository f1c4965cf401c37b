"""Keyboard and labels on the supervisor and admin pages, in a real Chromium: every control
is reached with Tab, each stop shows a visible focus ring, every field has a label.

Needs Debian's Chromium at /usr/bin/chromium; without it this skips, and with
RELAYDESK_TEST_REQUIRE=browser fails.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select
from tests.conftest import required
from tests.console.support import PASSWORD, WORKSPACE
from tests.console.test_browser import ARGS, CHROMIUM, FOCUS_RING
from tests.helpers.workspace import apply_text

from relaydesk import clock, migrate
from relaydesk.agents.actions import create_agent
from relaydesk.agents.passwords import hash_password
from relaydesk.app import create_app
from relaydesk.demo import _seed_customers
from relaydesk.hub import Hub
from relaydesk.journeys.actions import change_owner
from relaydesk.journeys.models import Journey
from relaydesk.journeys.states import JourneyOwner
from relaydesk.kb.models import KbArticle
from relaydesk.routing.models import QueueEntryRow
from relaydesk.settings import Settings

ADMIN = "ada@example.com"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console-admin"

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))"""

FOCUSABLE = """() => [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea')]
  .filter(el => !el.disabled && el.offsetParent !== null)
  .map(el => el.outerHTML.slice(0, 120))"""

MARK = "() => { document.activeElement.dataset.reached = '1'; }"
REACHED = "() => document.querySelectorAll('[data-reached]').length"


async def _prepare(settings: Settings) -> None:
    hub = Hub.from_settings(settings)
    try:
        await apply_text(hub, WORKSPACE)
        await hub.db.transaction(_seed_customers)
        digest = hash_password(PASSWORD)
        await hub.db.transaction(
            lambda s: create_agent(s, ADMIN, name="Ada Admin", role="admin", password_hash=digest)
        )
        async with hub.db.read() as session:
            journey_id = await session.scalar(
                select(Journey.id).where(Journey.status == "open").limit(1)
            )
        assert journey_id is not None
        now = clock.now()

        async def queue(session: Any) -> None:
            await change_owner(session, journey_id, JourneyOwner.QUEUE, reason="t", actor="t")
            session.add(
                QueueEntryRow(
                    journey_id=journey_id,
                    enqueued_at=now,
                    value=120.0,
                    reason="human_request",
                    updated_at=now,
                )
            )

        await hub.db.transaction(queue)
    finally:
        await hub.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    if not CHROMIUM.exists():
        if required("browser"):
            pytest.fail("a browser is required (RELAYDESK_TEST_REQUIRE) but Chromium is missing")
        pytest.skip(f"browser tests skipped: no {CHROMIUM} (apt-get install -y chromium)")
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    settings = Settings(
        database_url=url,
        run_worker=False,
        secret_key="admin-browser-secret-" + "k" * 32,  # type: ignore[arg-type]
        log_level="warning",
    )

    def prepare() -> None:
        migrate.upgrade(url)
        asyncio.run(_prepare(settings))

    with ThreadPoolExecutor(1) as pool:
        pool.submit(prepare).result(timeout=300)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    running = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the console server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=30)


def _tab_through(page: Any, limit: int = 400) -> int:
    """Tab from the top until focus leaves the page or comes round again; every stop must
    show a focus ring of at least 2 px. Returns the number of distinct controls reached."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    seen = 0
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused: dict[str, Any] = page.evaluate(FOCUS_RING)
        if focused["tag"] == "BODY":
            break
        if focused["tag"] in ("A", "BUTTON", "INPUT", "SELECT", "TEXTAREA"):
            assert focused["outline"] != "none" and focused["width"] >= 2, focused
        if page.evaluate("() => document.activeElement.dataset.reached === '1'"):
            break
        page.evaluate(MARK)
        seen += 1
    return seen


def test_supervisor_and_admin_pages_keyboard_and_labels(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    async def ids() -> tuple[str, str]:
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'admin.db'}")
        hub = Hub.from_settings(settings)
        try:
            async with hub.db.read() as session:
                found = await session.scalar(select(KbArticle.id).limit(1))
                journey = await session.scalar(
                    select(Journey.id).where(Journey.status == "open").limit(1)
                )
        finally:
            await hub.close()
        return str(found), str(journey)

    with ThreadPoolExecutor(1) as pool:
        article_id, journey_id = pool.submit(lambda: asyncio.run(ids())).result(timeout=60)
    pages = [
        "/console?view=all",
        f"/console/journeys/{journey_id}",
        "/console/admin/canned",
        "/console/admin/canned/new",
        "/console/admin/kb/new",
        "/console/supervisor",
        "/console/admin/channels",
        "/console/admin/channels/website",
        "/console/admin/agents",
        "/console/admin/agents/new",
        "/console/admin/teams",
        "/console/admin/skills",
        "/console/admin/routing",
        "/console/admin/kb",
        f"/console/admin/kb/{article_id}",
        "/console/admin/intents",
        "/console/admin/intents/new",
        "/console/admin/intents/order_status",
        "/console/admin/audit",
    ]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{server}/console/login")
            page.get_by_label("Email").fill(ADMIN)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{server}/console")
            for path in pages:
                page.goto(f"{server}{path}")
                assert page.evaluate(UNLABELLED) == [], path
                controls = page.evaluate(FOCUSABLE)
                reached = _tab_through(page)
                assert reached == len(controls), (path, reached, controls)
                name = path.strip("/").replace("/", "-")[:60]
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            # the agent page: the role and team fields are reachable and labelled
            page.goto(f"{server}/console/admin/agents")
            page.get_by_role("link", name="Ada Admin").click()
            assert page.get_by_label("Role").is_visible()
            assert page.get_by_label("Skills").is_visible()
        finally:
            browser.close()
    assert errors == []
