"""Console sign-in: sessions, cookies, CSRF, lock-out, no user enumeration, safe redirects."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from tests.conftest import scalar
from tests.console.conftest import MakeAgent
from tests.console.support import PASSWORD, csrf_of, sign_in

from relaydesk import clock
from relaydesk.agents.models import Agent
from relaydesk.app import create_app
from relaydesk.console import auth
from relaydesk.hub import Hub


async def test_anonymous_visits_are_sent_to_sign_in_with_next(browser: httpx.AsyncClient) -> None:
    home = await browser.get("/console")
    assert home.status_code == 303
    assert home.headers["location"] == "/console/login?next=%2Fconsole"
    deep = await browser.get("/console/journeys/abc", params={"sent": "reply"})
    assert deep.status_code == 303
    assert (
        deep.headers["location"] == "/console/login?next=%2Fconsole%2Fjourneys%2Fabc%3Fsent%3Dreply"
    )
    page = await browser.get(deep.headers["location"])
    assert page.status_code == 200
    assert '<label for="email">Email</label>' in page.text
    assert '<label for="password">Password</label>' in page.text
    assert 'value="/console/journeys/abc?sent=reply"' in page.text


async def test_good_sign_in_sets_a_safe_cookie_and_opens_the_console(
    browser: httpx.AsyncClient, make_agent: MakeAgent, hub: Hub
) -> None:
    agent_id = await make_agent("Alice@Example.com".lower(), name="Alice Agent")
    response = await sign_in(browser, "ALICE@example.com ", next_path="/console?view=queue")
    assert response.status_code == 303
    assert response.headers["location"] == "/console?view=queue"
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(auth.SESSION_COOKIE)
    )
    attributes = cookie.lower()
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/console" in attributes
    assert "secure" not in attributes  # plain http in this test; https below
    inbox = await browser.get("/console")
    assert inbox.status_code == 200
    assert "Alice Agent" in inbox.text
    token = cookie.split(";")[0].split("=", 1)[1]
    raw = token.rsplit(".", 1)[0]
    stored = await scalar(hub, "select token_hash from console_sessions")
    assert stored == auth.hash_session_token(raw)  # only the digest is stored
    owner = await scalar(hub, "select agent_id from console_sessions")
    assert str(owner).replace("-", "") == agent_id.hex


async def test_cookie_is_secure_over_https(hub: Hub, make_agent: MakeAgent) -> None:
    await make_agent("alice@example.com")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(hub=hub)), base_url="https://relaydesk.test"
    ) as https:
        response = await sign_in(https, "alice@example.com")
    assert response.status_code == 303
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(auth.SESSION_COOKIE)
    )
    assert "secure" in cookie.lower()


async def test_wrong_password_and_unknown_email_look_the_same(
    browser: httpx.AsyncClient, make_agent: MakeAgent, hub: Hub
) -> None:
    await make_agent("alice@example.com")
    wrong = await sign_in(browser, "alice@example.com", "not the password!")
    unknown = await sign_in(browser, "nobody@example.com", "not the password!")
    assert wrong.status_code == unknown.status_code == 401
    assert auth.BAD_CREDENTIALS in wrong.text
    assert auth.BAD_CREDENTIALS in unknown.text
    assert wrong.text.replace("alice@example.com", "X") == unknown.text.replace(
        "nobody@example.com", "X"
    ).replace(csrf_of(unknown.text), csrf_of(wrong.text))
    assert auth.SESSION_COOKIE not in browser.cookies
    assert await scalar(hub, "select count(*) from console_sessions") == 0
    empty = await sign_in(browser, "alice@example.com", "")
    assert empty.status_code == 400
    assert "Enter your email and password." in empty.text


async def test_inactive_agent_cannot_sign_in(
    browser: httpx.AsyncClient, make_agent: MakeAgent, hub: Hub
) -> None:
    agent_id = await make_agent("alice@example.com")
    await hub.db.transaction(
        lambda s: s.execute(update(Agent).where(Agent.id == agent_id).values(active=False))
    )
    response = await sign_in(browser, "alice@example.com")
    assert response.status_code == 401
    assert auth.BAD_CREDENTIALS in response.text


async def test_lock_out_after_five_failures_for_known_and_unknown_accounts(
    browser: httpx.AsyncClient, make_agent: MakeAgent, manual_clock: clock.ManualClock
) -> None:
    await make_agent("alice@example.com")
    for email in ("alice@example.com", "ghost@example.com"):
        for _ in range(auth.ACCOUNT_LIMIT):
            failed = await sign_in(browser, email, "wrong password here")
            assert failed.status_code == 401
        locked = await sign_in(browser, email, PASSWORD)  # even the right password
        assert locked.status_code == 429, email
        assert "Too many failed sign-ins. Try again in 15 minutes." in locked.text
    assert auth.SESSION_COOKIE not in browser.cookies
    manual_clock.advance(timedelta(minutes=10))
    still = await sign_in(browser, "alice@example.com")
    assert still.status_code == 429
    assert "Try again in 5 minutes." in still.text
    manual_clock.advance(timedelta(minutes=5, seconds=1))
    again = await sign_in(browser, "alice@example.com")
    assert again.status_code == 303
    browser.cookies.clear()
    # a success clears the account's count: one new failure does not lock it again
    assert (await sign_in(browser, "alice@example.com", "wrong password here")).status_code == 401
    assert (await sign_in(browser, "alice@example.com")).status_code == 303
    # signed in, the sign-in page sends you on
    assert (await browser.get("/console/login")).headers["location"] == "/console"


async def test_lock_out_per_client_address_across_accounts(
    browser: httpx.AsyncClient, make_agent: MakeAgent, manual_clock: clock.ManualClock
) -> None:
    await make_agent("alice@example.com")
    for index in range(auth.ADDRESS_LIMIT):
        failed = await sign_in(browser, f"user{index}@example.com", "wrong password here")
        assert failed.status_code == 401
    locked = await sign_in(browser, "alice@example.com")
    assert locked.status_code == 429
    manual_clock.advance(auth.LOCKOUT_WINDOW + timedelta(seconds=1))
    assert (await sign_in(browser, "alice@example.com")).status_code == 303


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/console",
        "//evil.example/console",
        "/\\evil.example",
        "/console\\@evil.example",
        "javascript:alert(1)",
        "/other/page",
        "/consolex",
        "http:/console",
    ],
)
async def test_next_cannot_leave_the_console(
    browser: httpx.AsyncClient, make_agent: MakeAgent, target: str
) -> None:
    await make_agent("alice@example.com")
    response = await sign_in(browser, "alice@example.com", next_path=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/console"


async def test_sign_in_form_needs_its_csrf_token(
    browser: httpx.AsyncClient, make_agent: MakeAgent
) -> None:
    await make_agent("alice@example.com")
    form = await browser.get("/console/login")
    fields = {"email": "alice@example.com", "password": PASSWORD}
    missing = await browser.post("/console/login", data=fields)
    assert missing.status_code == 403
    forged = await browser.post("/console/login", data={**fields, "csrf_token": "f" * 64})
    assert forged.status_code == 403
    browser.cookies.delete(auth.LOGIN_COOKIE)
    no_cookie = await browser.post(
        "/console/login", data={**fields, "csrf_token": csrf_of(form.text)}
    )
    assert no_cookie.status_code == 403
    json_body = await browser.post("/console/login", json=fields)
    assert json_body.status_code == 415


async def test_sign_out_needs_csrf_and_revokes_the_session(
    browser: httpx.AsyncClient, make_agent: MakeAgent, hub: Hub
) -> None:
    await make_agent("alice@example.com")
    await sign_in(browser, "alice@example.com")
    page = await browser.get("/console")
    cookie = browser.cookies[auth.SESSION_COOKIE]
    refused = await browser.post("/console/logout", data={})
    assert refused.status_code == 403
    assert (await browser.get("/console")).status_code == 200
    out = await browser.post("/console/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303
    assert out.headers["location"] == "/console/login"
    assert auth.SESSION_COOKIE not in browser.cookies
    assert await scalar(hub, "select count(*) from console_sessions where revoked_at is null") == 0
    browser.cookies.set(auth.SESSION_COOKIE, cookie, domain="relaydesk.test", path="/console")
    replay = await browser.get("/console")
    assert replay.status_code == 303  # the stolen cookie no longer works


async def test_sessions_end_when_idle_and_at_their_absolute_expiry(
    browser: httpx.AsyncClient, make_agent: MakeAgent, manual_clock: clock.ManualClock
) -> None:
    await make_agent("alice@example.com")
    await sign_in(browser, "alice@example.com")
    manual_clock.advance(auth.IDLE_TIMEOUT - timedelta(minutes=1))
    assert (await browser.get("/console")).status_code == 200  # activity renews last_seen
    manual_clock.advance(auth.IDLE_TIMEOUT - timedelta(minutes=1))
    assert (await browser.get("/console")).status_code == 200
    manual_clock.advance(auth.IDLE_TIMEOUT + timedelta(seconds=1))
    idle = await browser.get("/console")
    assert idle.status_code == 303

    browser.cookies.clear()
    await sign_in(browser, "alice@example.com")
    elapsed = timedelta()
    while elapsed < auth.SESSION_LIFETIME - timedelta(hours=1):
        manual_clock.advance(timedelta(hours=1))
        elapsed += timedelta(hours=1)
        assert (await browser.get("/console")).status_code == 200
    manual_clock.advance(timedelta(hours=1, seconds=1))
    expired = await browser.get("/console")
    assert expired.status_code == 303


async def test_a_forged_or_tampered_cookie_is_refused(
    browser: httpx.AsyncClient, make_agent: MakeAgent
) -> None:
    await make_agent("alice@example.com")
    await sign_in(browser, "alice@example.com")
    good = browser.cookies[auth.SESSION_COOKIE]
    for bad in ("garbage", good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "x." + good):
        browser.cookies.set(auth.SESSION_COOKIE, bad, domain="relaydesk.test", path="/console")
        assert (await browser.get("/console")).status_code == 303


async def test_old_failures_and_ended_sessions_are_forgotten(
    browser: httpx.AsyncClient, make_agent: MakeAgent, hub: Hub, manual_clock: clock.ManualClock
) -> None:
    await make_agent("alice@example.com")
    for index in range(3):
        await sign_in(browser, f"spray{index}@example.com", "wrong password here")
    assert await scalar(hub, "select count(*) from console_sign_in_failures") == 6
    manual_clock.advance(auth.LOCKOUT_WINDOW + timedelta(seconds=1))
    await sign_in(browser, "other@example.com", "wrong password here")
    assert await scalar(hub, "select count(*) from console_sign_in_failures") == 2

    await sign_in(browser, "alice@example.com")
    browser.cookies.clear()
    manual_clock.advance(auth.SESSION_LIFETIME + timedelta(days=1, seconds=1))
    await sign_in(browser, "alice@example.com")
    assert await scalar(hub, "select count(*) from console_sessions") == 1
