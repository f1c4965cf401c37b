"""The web chat widget in a real Chromium, against a real `relaydesk serve`.

A shop page on another origin carries the one-line snippet. The visitor chats, an agent
replies through the API, the page reloads, the socket dies and the browser goes offline,
and nothing is lost or duplicated. Screenshots (desktop 1280x800, phone 390x844) go to
test-artifacts/.

Needs Debian's Chromium at /usr/bin/chromium (`apt-get install chromium fonts-dejavu-core`);
without it these tests skip, and with RELAYDESK_TEST_REQUIRE=browser (CI) they fail.
"""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import required
from tests.helpers.loopback import LoopbackProvider

from relaydesk.channels.webchat import tokens

CHROMIUM = Path(os.environ.get("RELAYDESK_TEST_CHROMIUM") or "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SECRET = "e2e-secret-key-" + "x" * 32
STORAGE = "relaydesk:chat:"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if required("browser"):
            pytest.fail(
                "a browser is required (RELAYDESK_TEST_REQUIRE) but /usr/bin/chromium is missing"
            )
        pytest.skip(
            f"browser tests skipped: no {CHROMIUM} (apt-get install -y chromium fonts-dejavu-core)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass
class Stack:
    hub: str
    shop: str
    api: httpx.Client
    database: Path
    mailbox: LoopbackProvider

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.database) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def stack(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("e2e")
    shop_dir = root / "shop"
    shop_dir.mkdir()
    shop = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(shop_dir))
    )
    threading.Thread(target=shop.serve_forever, daemon=True).start()
    shop_url = f"http://127.0.0.1:{shop.server_address[1]}"
    mailbox = LoopbackProvider().start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    hub_url = f"http://127.0.0.1:{port}"
    (shop_dir / "index.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Test shop</title></head><body><h1>Test shop</h1>"
        '<p><a href="#a">Jackets</a> <a href="#b">Boots</a></p>'
        f'<script src="{hub_url}/widget.js" data-channel="chat" async></script></body></html>'
    )
    (root / "workspace.yaml").write_text(
        f"""
version: 1
channels:
  - name: chat
    kind: webchat
    settings:
      allowed_origins: ["{shop_url}"]
      title: Northwind help
      greeting: Hi! Ask us anything about your order.
      verification_channel: mail
  - name: mail
    kind: api
    settings:
      callback_url: {mailbox.url}/send-mail
# These tests drive the widget's transport with agent replies; the bot stays out of it.
routing:
  policy: human_first
"""
    )
    database = root / "hub.db"
    env = {
        **os.environ,
        "RELAYDESK_DATABASE_URL": f"sqlite:///{database}",
        "RELAYDESK_SECRET_KEY": SECRET,
        "RELAYDESK_LOG_LEVEL": "warning",
        "RELAYDESK_WORKER_POLL_INTERVAL": "0.2",
    }
    env.pop("RELAYDESK_REDIS_URL", None)
    log = (root / "hub.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "relaydesk.cli",
            "serve",
            "--port",
            str(port),
            "--workspace",
            str(root / "workspace.yaml"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{hub_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"relaydesk serve did not start:\n{(root / 'hub.log').read_text()}")
            time.sleep(0.2)
        token = subprocess.run(
            [sys.executable, "-m", "relaydesk.cli", "token", "create", "e2e-agent"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        ).stdout.strip()
        with httpx.Client(
            base_url=f"{hub_url}/api/v1", headers={"Authorization": f"Bearer {token}"}
        ) as api:
            yield Stack(hub_url, shop_url, api, database, mailbox)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        shop.shutdown()
        mailbox.stop()


def until(check: Callable[[], Any], what: str, wait: float = 10.0) -> Any:
    deadline = time.monotonic() + wait
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


TRACK_SOCKETS = """
window.__sockets = [];
const NativeSocket = window.WebSocket;
window.WebSocket = class extends NativeSocket {
  constructor(...args) { super(...args); window.__sockets.push(this); }
};
"""


def open_shop(context: Any, url: str) -> tuple[Any, list[str]]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.locator(".launcher").wait_for(state="visible")
    return page, errors


def visitor_of(page: Any) -> str:
    token = json.loads(page.evaluate(f"localStorage.getItem('{STORAGE}token')"))
    visitor = tokens.read(SECRET, "chat", token)
    assert visitor is not None
    return visitor


def timeline(stack: Stack, visitor: str) -> list[dict[str, Any]]:
    found = stack.api.get("/customers", params={"handle": visitor, "channel": "chat"}).json()
    if not found["items"]:
        return []
    customer = found["items"][0]["id"]
    return list(stack.api.get(f"/customers/{customer}/timeline").json()["items"])


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(250)  # let transitions settle
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def bubbles(page: Any) -> list[str]:
    return list(page.locator(".msg .bubble").all_inner_texts())


def test_chat_reply_reload_and_offline_without_loss_or_duplicates(
    browser: Any, stack: Stack
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(TRACK_SOCKETS)
    page, errors = open_shop(context, f"{stack.shop}/index.html")
    shot(page, "desktop-closed")
    page.get_by_role("button", name=re.compile("Open chat")).click()
    dialog = page.get_by_role("dialog", name="Northwind help")
    dialog.wait_for(state="visible")
    until(lambda: page.locator(".status").inner_text() == "Online", "the socket")

    box = page.get_by_role("textbox", name="Message")
    box.fill("Hi, where is my order 1042?")
    box.press("Enter")
    page.locator(".from-visitor .meta", has_text="Sent").first.wait_for()
    visitor = visitor_of(page)
    [first] = until(lambda: timeline(stack, visitor), "the message in the timeline")
    assert first["text"] == "Hi, where is my order 1042?" and first["channel"] == "chat"

    reply = stack.api.post(
        f"/journeys/{first['journey_id']}/messages",
        json={"text": "It ships today, Kim!", "buttons": ["Track my parcel", "Thanks!"]},
    )
    assert reply.status_code == 202, reply.text
    page.locator(".from-agent .bubble", has_text="It ships today, Kim!").wait_for()
    assert page.get_by_role("button", name="Track my parcel").is_visible()
    shot(page, "desktop-reply")
    until(
        lambda: (
            stack.api.get(f"/messages/{reply.json()['id']}").json()["delivery_status"] == "read"
        ),
        "the read receipt",
    )
    page.get_by_role("button", name="Talk to a person").click()
    page.locator(".human-request .meta", has_text="Sent").wait_for()
    assert stack.sql("select count(*) from messages where meta like '%human_request%'") == [(1,)]
    shot(page, "desktop-open")

    page.reload()
    page.locator(".from-agent .bubble", has_text="It ships today, Kim!").wait_for()
    assert bubbles(page) == [
        "Hi, where is my order 1042?",
        "It ships today, Kim!",
        "I would like to talk to a person, please.",
    ]

    page.evaluate("window.__sockets.at(-1).close()")  # the connection dies
    until(lambda: page.evaluate("window.__sockets.length") == 2, "a reconnect")
    until(lambda: page.locator(".status").inner_text() == "Online", "the new socket")

    context.set_offline(True)
    until(lambda: page.locator(".status").inner_text().startswith("Offline"), "offline")
    for text in ("Sent while offline", "And another one"):
        box.fill(text)
        box.press("Enter")
    page.locator(".meta", has_text="Waiting for connection").nth(1).wait_for()
    shot(page, "desktop-offline")
    assert len(timeline(stack, visitor)) == 3  # nothing arrived yet
    context.set_offline(False)
    until(lambda: len(timeline(stack, visitor)) == 5, "the queued messages", wait=20)
    until(lambda: page.locator(".msg.pending").count() == 0, "acks for the queue")

    # A crash right after sending, before the ack: the outbox still holds a stored message,
    # plus one never sent. After a reload the first is recognised, the second sent once.
    stored = stack.sql("select external_id from messages where text = 'And another one'")[0][
        0
    ].split(":", 1)[1]
    outbox = [
        {"client_msg_id": stored, "text": "And another one", "at": "2026-01-01T00:00:00Z"},
        {
            "client_msg_id": "crash-1",
            "text": "Typed just before the crash",
            "at": "2026-01-01T00:00:01Z",
        },
    ]
    page.evaluate(f"localStorage.setItem('{STORAGE}outbox', {json.dumps(json.dumps(outbox))})")
    page.reload()
    until(lambda: len(timeline(stack, visitor)) == 6, "the crash message")
    until(lambda: page.evaluate(f"localStorage.getItem('{STORAGE}outbox')") == "[]", "empty outbox")
    page.wait_for_timeout(1500)  # give any duplicate a chance to show up
    texts = [item["text"] for item in timeline(stack, visitor)]
    assert texts == [
        "Hi, where is my order 1042?",
        "It ships today, Kim!",
        "I would like to talk to a person, please.",
        "Sent while offline",
        "And another one",
        "Typed just before the crash",
    ], texts
    assert len(texts) == len(set(texts)) == 6, texts
    assert sorted(bubbles(page)) == sorted(texts)
    assert stack.sql("select count(*) from messages") == [(6,)]
    assert errors == []
    context.close()


def test_email_verification_in_the_browser(browser: Any, stack: Stack) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page, errors = open_shop(context, f"{stack.shop}/index.html")
    page.get_by_role("button", name=re.compile("Open chat")).click()
    page.get_by_role("textbox", name="Message").fill("Hello from Sam")
    page.get_by_role("textbox", name="Message").press("Enter")
    page.locator(".from-visitor .meta", has_text="Sent").wait_for()
    page.get_by_role("button", name="Leave your email so we can follow up").click()
    page.get_by_role("textbox", name="Your email address").fill("sam@example.com")
    page.get_by_role("button", name="Email me a code").click()
    code_box = page.get_by_role("textbox", name="Code we emailed to sam@example.com")
    code_box.wait_for()
    mail = until(lambda: [r for r in stack.mailbox.requests if r.path == "/send-mail"], "the mail")
    sent = mail[-1].json()
    assert sent["recipient"]["to"] == "sam@example.com"
    code = re.search(r"Your code is (\d{6})", sent["text"]).group(1)  # type: ignore[union-attr]
    shot(page, "desktop-code")
    code_box.fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    page.locator(".email-error", has_text="tries left").wait_for()
    code_box.fill(code)
    page.get_by_role("button", name="Verify").click()
    page.locator(".email-note", has_text="sam@example.com is verified.").wait_for()
    shot(page, "desktop-verified")
    found = stack.api.get("/customers", params={"email": "sam@example.com"}).json()["items"]
    assert len(found) == 1
    assert visitor_of(page) in json.dumps(found[0])
    assert errors == []
    context.close()


def test_phone_layout_keyboard_and_labels(browser: Any, stack: Stack) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page, errors = open_shop(context, f"{stack.shop}/index.html")
    shot(page, "phone-closed")
    for _ in range(10):  # the launcher is reachable with the keyboard
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.shadowRoot?.activeElement?.className || ''")
        if focused == "launcher":
            break
    assert focused == "launcher"
    shot(page, "phone-launcher-focus")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Northwind help")
    dialog.wait_for(state="visible")
    box = dialog.bounding_box()
    assert box is not None and box["width"] == 390 and box["height"] == 844  # full screen
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.id") == "rd-text"
    page.keyboard.type("Do you ship to Norway?")
    page.keyboard.press("Enter")
    page.locator(".from-visitor .meta", has_text="Sent").wait_for()
    for name in ("Talk to a person", "Send", "Close chat"):
        assert page.get_by_role("button", name=name).is_visible()
    shot(page, "phone-open")
    page.keyboard.press("Escape")
    assert page.get_by_role("dialog").count() == 0 or not dialog.is_visible()
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.className") == "launcher"
    assert errors == []
    context.close()


def test_the_demo_shop_page_on_the_hub(browser: Any, stack: Stack) -> None:
    """The hub's own /demo/shop carries the snippet; same-origin pages may always connect."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page, errors = open_shop(context, f"{stack.hub}/demo/shop")
    shot(page, "demo-shop-closed")
    page.get_by_role("button", name=re.compile("Open chat")).click()
    until(lambda: page.locator(".status").inner_text() == "Online", "the socket")
    page.get_by_role("textbox", name="Message").fill("Do the Stig boots run small?")
    page.get_by_role("textbox", name="Message").press("Enter")
    page.locator(".from-visitor .meta", has_text="Sent").wait_for()
    shot(page, "demo-shop-open")
    assert errors == []
    context.close()
