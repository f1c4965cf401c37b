"""Messenger: contract tests from the Page webhook fixtures, signed with the App Secret (checked
by pywa's validator, the independent peer); replies hit a loopback Send API."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pywa.utils import webhook_updates_validator
from sqlalchemy import text
from tests.conftest import SHARED, scalar
from tests.helpers.loopback import LoopbackProvider, Scripted
from tests.helpers.workspace import apply_text

from relaydesk import clock
from relaydesk.channels import registry
from relaydesk.channels.base import OutboundMessage
from relaydesk.channels.content import Button
from relaydesk.hub import Hub
from relaydesk.worker import Worker

FIXTURES = SHARED / "fixtures" / "channels" / "messenger"
SECRET, TOKEN = "fb-app-s3cret", "EAApage-token"
PAGE_ID, PSID = "102030405060708", "6543210987654321"
SENT_AT = datetime.fromtimestamp(1763899999, UTC)  # inbound_text.json
REPLY_MID = "m_ReplyMid000111"  # what delivery.json and echo.json refer to
WORKSPACE = """
version: 1
channels:
  - name: fb
    kind: messenger
    settings:
      page_id: "102030405060708"
      page_access_token: env:TEST_FB_TOKEN
      app_secret: env:TEST_FB_APP_SECRET
      verify_token: env:TEST_FB_VERIFY
      base_url: {url}
"""


def fixture(name: str) -> bytes:
    """A fixture as Meta would send it to this Page (doc placeholders filled in)."""
    body = (FIXTURES / name).read_bytes()
    return body.replace(b"<PAGE_ID>", PAGE_ID.encode()).replace(b"<PSID>", PSID.encode())


def signed_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert webhook_updates_validator(secret, body, signature)  # pywa agrees: the peer
    return {"x-hub-signature-256": signature, "content-type": "application/json"}


def as_json(value: object) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture(autouse=True)
async def workspace(hub: Hub, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_FB_APP_SECRET", SECRET)
    monkeypatch.setenv("TEST_FB_TOKEN", TOKEN)
    monkeypatch.setenv("TEST_FB_VERIFY", "let-meta-in")
    provider.default = Scripted(200, {"recipient_id": PSID, "message_id": REPLY_MID})
    await apply_text(hub, WORKSPACE.format(url=provider.url))


async def deliver(anonymous: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await anonymous.post("/hooks/fb", content=body, headers=signed_headers(body))


async def journey_after_inbound(anonymous: httpx.AsyncClient, hub: Hub) -> str:
    assert (await deliver(anonymous, fixture("inbound_text.json"))).status_code == 200
    return str(await scalar(hub, "select journey_id from messages"))


async def test_text_is_stored_once_with_the_page_scoped_id(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub
) -> None:
    body = fixture("inbound_text.json")
    assert (await deliver(anonymous, body)).status_code == 200
    assert (await deliver(anonymous, body)).status_code == 200  # a retry is a no-op
    assert await scalar(hub, "select count(*) from messages") == 1
    customer_id = await scalar(hub, "select customer_id from messages")
    customer = (await client.get(f"/api/v1/customers/{customer_id}")).json()
    assert [
        (i["kind"], i["scope"], i["value"], i["assurance"]) for i in customer["identities"]
    ] == [("messenger", "fb", PSID, "provider")]
    found = await client.get("/api/v1/customers", params={"handle": PSID, "channel": "fb"})
    assert [c["id"] for c in found.json()["items"]] == [customer["id"]]
    timeline = (await client.get(f"/api/v1/customers/{customer_id}/timeline")).json()["items"]
    assert timeline[0]["text"] == "Czy mogę zwrócić buty kupione w zeszłym tygodniu?"
    assert as_json(await scalar(hub, "select reply_to from conversations")) == {
        "recipient": PSID,
        "last_inbound_at": SENT_AT.isoformat(),
    }


RAW = (FIXTURES / "inbound_text.json").read_bytes()


@pytest.mark.parametrize(
    ("body", "header"),
    [
        pytest.param(RAW, None, id="missing"),
        pytest.param(RAW, "sha256=" + hmac.new(b"x", RAW, hashlib.sha256).hexdigest(), id="other"),
        pytest.param(
            RAW.replace(b"buty", b"auto"),
            "sha256=" + hmac.new(SECRET.encode(), RAW, hashlib.sha256).hexdigest(),
            id="tampered-body",
        ),
        pytest.param(
            json.dumps(json.loads(RAW)).encode(),
            "sha256=" + hmac.new(SECRET.encode(), RAW, hashlib.sha256).hexdigest(),
            id="re-serialised",
        ),
    ],
)
async def test_bad_or_missing_signature_is_401_and_stores_nothing(
    anonymous: httpx.AsyncClient,
    hub: Hub,
    body: bytes,
    header: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if header is not None:
        assert not webhook_updates_validator(SECRET, body, header)
    headers = {"x-hub-signature-256": header} if header is not None else {}
    response = await anonymous.post("/hooks/fb", content=body, headers=headers)
    assert response.status_code == 401
    assert await scalar(hub, "select count(*) from messages") == 0
    assert PSID not in caplog.text and "buty" not in caplog.text


async def test_verification_handshake(anonymous: httpx.AsyncClient) -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    ok = await anonymous.get("/hooks/fb", params={**query, "hub.verify_token": "let-meta-in"})
    assert (ok.status_code, ok.text) == (200, "1158201444")
    bad = await anonymous.get("/hooks/fb", params={**query, "hub.verify_token": "let-me-in"})
    assert bad.status_code == 403
    assert (await anonymous.get("/hooks/fb", params=query)).status_code == 403


async def test_talk_to_a_person_postback_is_recognisable_in_meta(
    anonymous: httpx.AsyncClient, hub: Hub
) -> None:
    assert (await deliver(anonymous, fixture("postback.json"))).status_code == 200
    assert await scalar(hub, "select text from messages") == "Talk to a person"
    assert as_json(await scalar(hub, "select meta from messages")) == {
        "kind": "postback",
        "payload": "HUMAN",
        "title": "Talk to a person",
        "requests_human": True,
        "control": "postback",
    }
    assert await scalar(hub, "select external_id from messages") == "m_Postback0001"


def tapped(kind: str, payload: str, mid: str) -> bytes:
    """postback.json as a postback or a quick reply carrying ``payload``."""
    data = json.loads(fixture("postback.json"))
    event = data["entry"][0]["messaging"][0]
    if kind == "quick_reply":
        del event["postback"]
        event["message"] = {"mid": mid, "text": "Agent", "quick_reply": {"payload": payload}}
    else:
        event["postback"].update(mid=mid, payload=payload)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("kind", "payload", "human"),
    [
        ("postback", "HUMAN_AGENT", True),
        ("quick_reply", "HUMAN_AGENT", True),
        ("quick_reply", "talk_to_person", True),  # any case
        ("postback", "ESCALATE", True),  # listed in the channel's human_payloads
        ("postback", "GET_STARTED", False),
        ("quick_reply", "human agent", False),  # a payload, not free text
    ],
)
async def test_payloads_asking_for_a_person_carry_the_contract(
    anonymous: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    kind: str,
    payload: str,
    human: bool,
) -> None:
    extra = WORKSPACE.format(url=provider.url) + "      human_payloads: [ESCALATE]\n"
    await apply_text(hub, extra)
    assert (await deliver(anonymous, tapped(kind, payload, "m_Tap1"))).status_code == 200
    meta = as_json(await scalar(hub, "select meta from messages"))
    assert meta["payload"] == payload and meta["kind"] == kind
    if human:
        assert (meta["requests_human"], meta["control"]) == (True, kind)
    else:
        assert "requests_human" not in meta and "control" not in meta


async def test_echoes_and_other_objects_are_not_customer_messages(
    anonymous: httpx.AsyncClient, hub: Hub
) -> None:
    assert (await deliver(anonymous, fixture("echo.json"))).status_code == 200
    instagram = fixture("inbound_text.json").replace(b'"object": "page"', b'"object": "instagram"')
    assert (await deliver(anonymous, instagram)).status_code == 200  # ignored, not retried
    unreadable = await deliver(anonymous, b"[]")
    assert (unreadable.status_code, unreadable.json()["error"]) == (400, "bad_payload")
    assert await scalar(hub, "select count(*) from messages") == 0
    assert await scalar(hub, "select count(*) from customers") == 0


async def test_reply_is_the_documented_request_and_delivery_is_recorded(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    manual_clock: clock.ManualClock,
) -> None:
    manual_clock.set(SENT_AT + timedelta(minutes=5))
    journey = await journey_after_inbound(anonymous, hub)
    reply = await client.post(f"/api/v1/journeys/{journey}/messages", json={"text": "hello, world"})
    assert reply.status_code == 202, reply.text
    await Worker(hub).drain()
    [request] = provider.requests
    assert request.json() == json.loads(fixture("send_api_request.json"))
    proof = hmac.new(SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
    assert request.path == f"/v25.0/{PAGE_ID}/messages?appsecret_proof={proof}"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    url = f"/api/v1/messages/{reply.json()['id']}"
    assert (await client.get(url)).json()["external_id"] == REPLY_MID
    await deliver(anonymous, fixture("echo.json"))  # the echo of our own reply
    assert await scalar(hub, "select count(*) from messages") == 2
    await deliver(anonymous, fixture("delivery.json"))
    assert (await client.get(url)).json()["delivery_status"] == "delivered"
    # read.json's watermark is older than the reply: nothing changes
    assert (await deliver(anonymous, fixture("read.json"))).status_code == 200
    assert (await client.get(url)).json()["delivery_status"] == "delivered"
    # a watermark after it: "everything before this was read"
    later = int((manual_clock.now() + timedelta(minutes=1)).timestamp() * 1000)
    read = fixture("read.json").replace(b"1458668856253", str(later).encode())
    assert (await deliver(anonymous, read)).status_code == 200
    assert (await client.get(url)).json()["delivery_status"] == "read"
    stranger = read.replace(PSID.encode(), b"1111111111")  # someone else's watermark
    assert (await deliver(anonymous, stranger)).status_code == 200


async def test_a_watermark_reads_only_earlier_replies_to_that_person(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    manual_clock: clock.ManualClock,
) -> None:
    manual_clock.set(SENT_AT + timedelta(minutes=5))
    journey = await journey_after_inbound(anonymous, hub)
    provider.then(
        Scripted(200, {"recipient_id": PSID, "message_id": "m_First"}),
        Scripted(200, {"recipient_id": PSID, "message_id": "m_Second"}),
    )
    ids = []
    for text_ in ("First", "Second"):
        reply = await client.post(f"/api/v1/journeys/{journey}/messages", json={"text": text_})
        ids.append(reply.json()["id"])
        await Worker(hub).drain()
        manual_clock.advance(timedelta(minutes=1))
    between = int((SENT_AT + timedelta(minutes=5, seconds=30)).timestamp() * 1000)
    read = fixture("read.json").replace(b"1458668856253", str(between).encode())
    assert (await deliver(anonymous, read)).status_code == 200
    statuses = [(await client.get(f"/api/v1/messages/{i}")).json()["delivery_status"] for i in ids]
    assert statuses == ["read", "sent"]
    delivered = fixture("delivery.json").replace(b'"m_ReplyMid000111"', b"")
    delivered = delivered.replace(b"1763900003000", str(between + 120_000).encode())
    assert (await deliver(anonymous, delivered)).status_code == 200  # a watermark, no mids
    statuses = [(await client.get(f"/api/v1/messages/{i}")).json()["delivery_status"] for i in ids]
    assert statuses == ["read", "delivered"]  # never backwards


async def test_after_24_hours_only_human_agent_within_7_days(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    manual_clock: clock.ManualClock,
) -> None:
    manual_clock.set(SENT_AT + timedelta(minutes=5))
    journey = await journey_after_inbound(anonymous, hub)
    url = f"/api/v1/journeys/{journey}/messages"
    manual_clock.set(SENT_AT + timedelta(hours=25))
    refused = await client.post(url, json={"text": "Following up on your ticket"})
    assert refused.status_code == 409
    assert refused.json()["error"] == "window_closed"
    assert "HUMAN_AGENT" in refused.json()["detail"]
    tagged = {"text": "Following up on your ticket", "tag": "HUMAN_AGENT"}
    assert (await client.post(url, json=tagged)).status_code == 202
    await Worker(hub).drain()
    [request] = provider.requests
    assert request.json() == json.loads(fixture("send_api_human_agent_tag.json"))

    manual_clock.set(SENT_AT + timedelta(days=8))
    late = await client.post(url, json=tagged)
    assert late.status_code == 202  # queued: the 7-day limit is the adapter's to enforce
    await Worker(hub).drain()
    assert len(provider.requests) == 1  # refused without calling Meta
    failed = (await client.get(f"/api/v1/messages/{late.json()['id']}")).json()
    assert failed["delivery_status"] == "failed"
    assert failed["delivery_error_code"] == "human_agent_window_closed"
    assert "within 7 days" in failed["delivery_error"]


async def test_outside_window_error_from_meta_is_permanent_and_explained(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    manual_clock: clock.ManualClock,
) -> None:
    manual_clock.set(SENT_AT + timedelta(minutes=5))
    journey = await journey_after_inbound(anonymous, hub)
    provider.then(
        Scripted(
            400,
            {
                "error": {
                    "message": "(#10) This message is sent outside of allowed window.",
                    "type": "OAuthException",
                    "code": 10,
                    "error_subcode": 2018278,
                    "fbtrace_id": "BLBz/WZt8dN",
                }
            },
        ),
        Scripted(400, {"error": {"message": "Calls exceeded", "code": 613}}),
    )
    first = (await client.post(f"/api/v1/journeys/{journey}/messages", json={"text": "a"})).json()
    await Worker(hub).drain()
    failed = (await client.get(f"/api/v1/messages/{first['id']}")).json()
    assert (failed["delivery_status"], failed["delivery_error_code"]) == ("failed", "10")
    assert "HUMAN_AGENT" in failed["delivery_error"] and "2018278" in failed["delivery_error"]
    second = (await client.post(f"/api/v1/journeys/{journey}/messages", json={"text": "b"})).json()
    worker = Worker(hub)
    await worker.drain()
    manual_clock.advance(timedelta(minutes=10))
    await worker.drain()
    assert len(provider.requests) == 3  # 613 is a rate limit: retried
    assert (await client.get(f"/api/v1/messages/{second['id']}")).json()["delivery_status"] == (
        "sent"
    )


async def test_buttons_become_quick_replies_or_numbered_lines(provider: LoopbackProvider) -> None:
    adapter = registry.build_adapter(
        "fb",
        "messenger",
        {
            "page_id": PAGE_ID,
            "page_access_token": "env:TEST_FB_TOKEN",
            "app_secret": "env:TEST_FB_APP_SECRET",
            "verify_token": "env:TEST_FB_VERIFY",
            "base_url": provider.url,
        },
    )
    reply_to = {"recipient": PSID, "last_inbound_at": clock.now().isoformat()}
    async with httpx.AsyncClient() as http:
        two = (Button("yes", "Yes"), Button("HUMAN_AGENT", "A person"))
        await adapter.send(OutboundMessage("1", "Helped?", reply_to, two), http)
        long = (Button("Yes", "Yes"), Button("x", "Talk to a real person now"))
        await adapter.send(OutboundMessage("2", "Helped?", reply_to, long), http)
        written = "Helped?\n1. Yes\n2. Talk to a real person now"  # the bot wrote them
        await adapter.send(OutboundMessage("3", written, reply_to, long), http)
    quick, numbered, as_written = (r.json()["message"] for r in provider.requests)
    assert quick == {
        "text": "Helped?",
        "quick_replies": [
            {"content_type": "text", "title": "Yes", "payload": "yes"},
            {"content_type": "text", "title": "A person", "payload": "HUMAN_AGENT"},
        ],
    }
    assert numbered == {"text": "Helped?\n\n1. Yes\n2. Talk to a real person now"}
    assert as_written == {"text": written}


async def test_a_batch_with_many_entries_and_events_parses_all(
    anonymous: httpx.AsyncClient, hub: Hub
) -> None:
    def events(name: str) -> list[dict[str, Any]]:
        return list(json.loads(fixture(name))["entry"][0]["messaging"])

    other_page = json.loads(fixture("inbound_text.json"))["entry"][0]
    other_page["id"] = "999"  # another Page subscribed to the same app
    other_page["messaging"][0]["message"]["mid"] = "m_OtherPage"
    reaction = {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE_ID},
        "timestamp": 1763900020000,
        "reaction": {"mid": REPLY_MID, "action": "react", "reaction": "love", "emoji": "❤"},
    }
    batch = {
        "object": "page",
        "entry": [
            {"id": PAGE_ID, "time": 1, "messaging": [*events("inbound_text.json"), reaction]},
            {"id": PAGE_ID, "time": 2, "messaging": events("postback.json") + events("echo.json")},
            other_page,
        ],
    }
    assert (await deliver(anonymous, json.dumps(batch).encode())).status_code == 200
    async with hub.db.read() as session:
        rows = (await session.execute(text("select external_id, text from messages"))).all()
    assert sorted(rows) == [
        ("m_AbCdEf0123456789", "Czy mogę zwrócić buty kupione w zeszłym tygodniu?"),
        ("m_Postback0001", "Talk to a person"),
        (f"reaction:{REPLY_MID}:{PSID}:1763900020000", "❤"),
    ]
