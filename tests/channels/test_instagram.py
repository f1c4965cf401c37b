"""Instagram Direct: contract tests from the Instagram webhook fixtures, signed with the App
Secret (checked by pywa's validator); replies hit a loopback Send API on the linked Page."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pywa.utils import webhook_updates_validator
from tests.conftest import SHARED, scalar
from tests.helpers.loopback import LoopbackProvider, Scripted
from tests.helpers.workspace import apply_text

from relaydesk import clock
from relaydesk.hub import Hub
from relaydesk.worker import Worker

FIXTURES = SHARED / "fixtures" / "channels" / "instagram"
SECRET, TOKEN = "ig-app-s3cret", "EAApage-token"
PAGE_ID, ACCOUNT_ID, IGSID = "102030405060708", "17841400000000000", "987654321012345"
SENT_AT = datetime.fromtimestamp(1763900019, UTC)  # inbound_text.json
REPLY_MID = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQy"  # echo.json and messaging_seen.json
WORKSPACE = """
version: 1
channels:
  - name: ig
    kind: instagram
    settings:
      page_id: {page_id}
      instagram_account_id: {account_id}
      page_access_token: env:TEST_IG_TOKEN
      app_secret: env:TEST_IG_APP_SECRET
      verify_token: env:TEST_IG_VERIFY
      base_url: {url}
"""


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signed_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert webhook_updates_validator(secret, body, signature)  # pywa agrees: the peer
    return {"x-hub-signature-256": signature, "content-type": "application/json"}


@pytest.fixture(autouse=True)
async def workspace(hub: Hub, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_IG_APP_SECRET", SECRET)
    monkeypatch.setenv("TEST_IG_TOKEN", TOKEN)
    monkeypatch.setenv("TEST_IG_VERIFY", "let-meta-in")
    provider.default = Scripted(200, {"recipient_id": IGSID, "message_id": REPLY_MID})
    await apply_text(
        hub, WORKSPACE.format(page_id=PAGE_ID, account_id=ACCOUNT_ID, url=provider.url)
    )


async def deliver(anonymous: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await anonymous.post("/hooks/ig", content=body, headers=signed_headers(body))


async def journey_after_inbound(anonymous: httpx.AsyncClient, hub: Hub) -> str:
    assert (await deliver(anonymous, fixture("inbound_text.json"))).status_code == 200
    return str(await scalar(hub, "select journey_id from messages"))


async def test_text_is_stored_once_with_the_instagram_scoped_id(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub
) -> None:
    body = fixture("inbound_text.json")
    assert (await deliver(anonymous, body)).status_code == 200
    assert (await deliver(anonymous, body)).status_code == 200
    assert await scalar(hub, "select count(*) from messages") == 1
    customer_id = await scalar(hub, "select customer_id from messages")
    customer = (await client.get(f"/api/v1/customers/{customer_id}")).json()
    assert [
        (i["kind"], i["scope"], i["value"], i["assurance"]) for i in customer["identities"]
    ] == [("instagram", "ig", IGSID, "provider")]
    assert await scalar(hub, "select text from messages") == "Do you ship to Poland?"


async def test_other_accounts_and_echoes_are_not_stored(
    anonymous: httpx.AsyncClient, hub: Hub
) -> None:
    assert (await deliver(anonymous, fixture("echo.json"))).status_code == 200
    other = json.loads(fixture("inbound_text.json"))
    other["entry"][0]["id"] = "17841499999999999"  # another account of the same app
    assert (await deliver(anonymous, json.dumps(other).encode())).status_code == 200
    assert await scalar(hub, "select count(*) from messages") == 0


@pytest.mark.parametrize("header", [None, "sha256=" + "f" * 64])
async def test_bad_or_missing_signature_is_401_and_stores_nothing(
    anonymous: httpx.AsyncClient, hub: Hub, header: str | None
) -> None:
    headers = {"x-hub-signature-256": header} if header else {}
    response = await anonymous.post(
        "/hooks/ig", content=fixture("inbound_text.json"), headers=headers
    )
    assert response.status_code == 401
    assert await scalar(hub, "select count(*) from messages") == 0


async def test_verification_handshake(anonymous: httpx.AsyncClient) -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "42"}
    ok = await anonymous.get("/hooks/ig", params={**query, "hub.verify_token": "let-meta-in"})
    assert (ok.status_code, ok.text) == (200, "42")
    bad = await anonymous.get("/hooks/ig", params={**query, "hub.verify_token": "nope"})
    assert bad.status_code == 403


async def test_reply_and_seen_receipt(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    manual_clock: clock.ManualClock,
) -> None:
    manual_clock.set(SENT_AT + timedelta(minutes=1))
    journey = await journey_after_inbound(anonymous, hub)
    reply = await client.post(
        f"/api/v1/journeys/{journey}/messages",
        json={"text": "Yes, 3-5 days.", "buttons": ["Thanks", "Talk to a person"]},
    )
    assert reply.status_code == 202, reply.text
    await Worker(hub).drain()
    [request] = provider.requests
    assert request.path.startswith(f"/v25.0/{PAGE_ID}/messages?")
    assert request.json() == {
        "recipient": {"id": IGSID},
        "messaging_type": "RESPONSE",
        "message": {
            "text": "Yes, 3-5 days.",
            "quick_replies": [
                {"content_type": "text", "title": "Thanks", "payload": "Thanks"},
                {
                    "content_type": "text",
                    "title": "Talk to a person",
                    "payload": "Talk to a person",
                },
            ],
        },
    }
    url = f"/api/v1/messages/{reply.json()['id']}"
    await deliver(anonymous, fixture("echo.json"))
    assert (await deliver(anonymous, fixture("messaging_seen.json"))).status_code == 200
    assert (await client.get(url)).json()["delivery_status"] == "read"
    assert await scalar(hub, "select count(*) from messages") == 2


async def test_only_human_agent_tag_and_text_limit_in_bytes(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    manual_clock: clock.ManualClock,
) -> None:
    manual_clock.set(SENT_AT + timedelta(minutes=1))
    journey = await journey_after_inbound(anonymous, hub)
    url = f"/api/v1/journeys/{journey}/messages"
    polish = "ż" * 600  # 600 characters, 1200 bytes
    too_long = (await client.post(url, json={"text": polish})).json()
    await Worker(hub).drain()
    delayed = (await client.post(url, json={"text": "Queued in time, sent too late"})).json()
    manual_clock.set(SENT_AT + timedelta(hours=30))
    wrong_tag = (await client.post(url, json={"text": "x", "tag": "POST_PURCHASE_UPDATE"})).json()
    tagged = await client.post(url, json={"text": "An agent here", "tag": "HUMAN_AGENT"})
    assert tagged.status_code == 202
    await Worker(hub).drain()

    async def outcome(message: dict[str, Any]) -> tuple[str, str, str]:
        got = (await client.get(f"/api/v1/messages/{message['id']}")).json()
        return got["delivery_status"], got["delivery_error_code"], got["delivery_error"]

    status, code, reason = await outcome(too_long)
    assert (status, code) == ("failed", "too_long") and "1000 bytes" in reason
    status, code, reason = await outcome(delayed)
    assert (status, code) == ("failed", "window_closed") and "HUMAN_AGENT" in reason
    status, code, reason = await outcome(wrong_tag)
    assert (status, code) == ("failed", "bad_tag") and "HUMAN_AGENT" in reason
    [request] = provider.requests
    assert request.json() == {
        "recipient": {"id": IGSID},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "An agent here"},
    }


# --- Graph error mapping, shared by the three Meta channels (meta_common) -------------------


def graph_error(code: int, subcode: int | None = None, **extra: Any) -> dict[str, Any]:
    error = {"message": f"(#{code}) error", "type": "OAuthException", "code": code, **extra}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": {**error, "fbtrace_id": "AbCdEf"}}


MAPPING: list[tuple[int, Any, dict[str, str], tuple[str, Any]]] = [
    (429, graph_error(4), {"Retry-After": "30"}, ("transient", 30.0)),
    (400, graph_error(4), {}, ("transient", None)),
    (400, graph_error(17), {}, ("transient", None)),
    (400, graph_error(32), {}, ("transient", None)),
    (400, graph_error(613), {}, ("transient", None)),
    (400, graph_error(130429), {"Retry-After": "5"}, ("transient", 5.0)),
    (400, graph_error(131056), {}, ("transient", None)),
    (400, graph_error(100, is_transient=True), {}, ("transient", None)),
    (500, graph_error(2), {}, ("transient", None)),
    (503, b"<html>upstream</html>", {}, ("transient", None)),
    (400, graph_error(1200), {}, ("transient", None)),  # Messenger: temporary send failure
    (400, graph_error(10, 2018278), {}, ("permanent", "10")),  # Messenger: outside the window
    (400, graph_error(131047), {}, ("permanent", "131047")),
    (400, graph_error(131026), {}, ("permanent", "131026")),
    (400, graph_error(100, 33), {}, ("permanent", "100")),
    (403, b"forbidden", {}, ("permanent", "403")),
    (400, graph_error(190, 463), {}, ("misconfigured", None)),
]


def test_graph_errors_map_to_retry_failure_or_misconfiguration() -> None:
    from relaydesk.channels.base import (
        ChannelMisconfigured,
        PermanentSendError,
        TransientSendError,
    )
    from relaydesk.channels.meta_common import WHATSAPP_REASONS, graph_failure

    for status, body, headers, (kind, detail) in MAPPING:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = httpx.Response(status, content=content, headers=headers)
        error = graph_failure(response, "WhatsApp Cloud API", WHATSAPP_REASONS)
        case = f"{status} {body!r}"
        if kind == "transient":
            assert isinstance(error, TransientSendError), case
            assert error.retry_after == detail, case
        elif kind == "permanent":
            assert isinstance(error, PermanentSendError), case
            assert error.code == detail, case
        else:
            assert isinstance(error, ChannelMisconfigured), case
            assert "access token" in str(error)
    response = httpx.Response(400, json=graph_error(131047))
    reason = str(graph_failure(response, "WhatsApp Cloud API", WHATSAPP_REASONS))
    assert "24 hours" in reason and "template" in reason and "AbCdEf" in reason
