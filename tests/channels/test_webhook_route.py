"""The one webhook route, exercised with a minimal signed adapter registered for the test."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest
from tests.conftest import scalar
from tests.helpers.workspace import apply_text

from relaydesk.channels import registry
from relaydesk.channels.base import (
    Capabilities,
    ChannelAdapter,
    ChannelConfig,
    ConsentChange,
    DeliveryUpdate,
    InboundMessage,
    OutboundMessage,
    OutboundRequest,
    ParsedWebhook,
    PayloadError,
    Sender,
    SendResult,
    SignatureError,
    WebhookReply,
    WebhookRequest,
    resolve_secret,
)
from relaydesk.customers.identities import identity_key
from relaydesk.hub import Hub
from relaydesk.worker import Worker


class SignedConfig(ChannelConfig):
    secret: str
    verify_token: str | None = None


class SignedAdapter(ChannelAdapter):
    """Signs like Meta: HMAC-SHA256 of the raw body; JSON with messages/statuses/optouts."""

    kind: ClassVar[str] = "test_signed"
    Config: ClassVar[type[ChannelConfig]] = SignedConfig
    capabilities: ClassVar[Capabilities] = Capabilities()

    def _secret(self) -> str:
        assert isinstance(self.config, SignedConfig)
        return resolve_secret(self.config.secret, "secret")

    async def verify(self, request: WebhookRequest) -> None:
        expected = hmac.new(self._secret().encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-signature", ""), expected):
            raise SignatureError("bad signature")

    def challenge(self, request: WebhookRequest) -> WebhookReply | None:
        assert isinstance(self.config, SignedConfig)
        query = dict(request.query)
        if query.get("token") != resolve_secret(self.config.verify_token, "verify_token"):
            error = SignatureError("wrong verify token")
            error.status = 403
            raise error
        return WebhookReply(body=query.get("challenge", "").encode())

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        data = request.json()
        if not isinstance(data, dict):
            raise PayloadError("expected an object")
        parsed = ParsedWebhook(reply=WebhookReply(body=b"<ok/>", content_type="application/xml"))
        for item in data.get("messages", []):
            parsed.messages.append(
                InboundMessage(
                    channel=self.name,
                    external_id=item["id"],
                    sender=Sender(((identity_key("phone", item["from"]), "provider"),)),
                    text=item["text"],
                    reply_to={"to": item["from"]},
                    thread_refs=tuple(item.get("refs", ())),
                    thread_key=item.get("thread", ""),
                    author_type=item.get("author", "customer"),
                )
            )
        for index, channel in data.get("send_link", []):
            parsed.outbound.append(OutboundRequest(index, channel, "Continue here: https://x.test"))
        for item in data.get("statuses", []):
            parsed.deliveries.append(
                DeliveryUpdate(item["id"], item["status"], error_code=item.get("code"))
            )
        for phone in data.get("stop", []):
            parsed.consent.append(ConsentChange(identity_key("phone", phone), "revoked", "STOP"))
        return parsed

    async def send(self, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        return SendResult(external_id=f"out-{message.message_id}")

    @classmethod
    def address_from_identities(
        cls, identities: list[tuple[str, str, str]], channel_name: str
    ) -> dict[str, Any] | None:
        phones = [value for kind, _scope, value in identities if kind == "phone"]
        return {"to": phones[0]} if phones else None


@pytest.fixture(autouse=True)
def signed_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(registry.KINDS, SignedAdapter.kind, SignedAdapter)
    monkeypatch.setenv("TEST_HOOK_SECRET", "k3y")
    monkeypatch.setenv("TEST_VERIFY", "let-me-in")
    yield


@pytest.fixture(autouse=True)
async def workspace(hub: Hub, signed_kind: None) -> None:
    await apply_text(
        hub,
        """
channels:
  - name: sms
    kind: test_signed
    settings: {secret: env:TEST_HOOK_SECRET, verify_token: env:TEST_VERIFY}
  - name: api
    kind: api
""",
    )


def signed(payload: dict[str, Any], key: bytes = b"k3y") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {
        "x-signature": hmac.new(key, body, hashlib.sha256).hexdigest(),
        "content-type": "application/json",
    }


async def test_signed_webhook_is_stored_then_acknowledged(
    anonymous: httpx.AsyncClient, hub: Hub
) -> None:
    body, headers = signed({"messages": [{"id": "SM1", "from": "+46701234567", "text": "Hej"}]})
    response = await anonymous.post("/hooks/sms", content=body, headers=headers)
    assert response.status_code == 200
    assert response.content == b"<ok/>"
    assert response.headers["content-type"].startswith("application/xml")
    assert await scalar(hub, "select count(*) from messages") == 1
    again = await anonymous.post("/hooks/sms", content=body, headers=headers)
    assert again.status_code == 200
    assert await scalar(hub, "select count(*) from messages") == 1  # a provider retry is a no-op
    reply_to = await scalar(hub, "select reply_to from conversations")
    assert (json.loads(reply_to) if isinstance(reply_to, str) else reply_to) == {
        "to": "+46701234567"
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-signature": "0" * 64}, {"x-signature": "tampered"}],
)
async def test_bad_or_missing_signature_is_401_and_stores_nothing(
    anonymous: httpx.AsyncClient,
    hub: Hub,
    headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    body, _ = signed({"messages": [{"id": "SM1", "from": "+46701234567", "text": "secret words"}]})
    response = await anonymous.post("/hooks/sms", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"
    assert await scalar(hub, "select count(*) from messages") == 0
    assert "secret words" not in caplog.text and "+46701234567" not in caplog.text


async def test_body_tampered_after_signing_is_refused(
    anonymous: httpx.AsyncClient, hub: Hub
) -> None:
    body, headers = signed({"messages": [{"id": "SM1", "from": "+46701234567", "text": "hi"}]})
    response = await anonymous.post(
        "/hooks/sms", content=body.replace(b"hi", b"ho"), headers=headers
    )
    assert response.status_code == 401


async def test_unknown_channel_and_non_webhook_kinds(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.post("/hooks/nope", content=b"{}")).status_code == 404
    assert (await anonymous.post("/hooks/api", content=b"{}")).status_code == 404


async def test_unreadable_payload_is_400(anonymous: httpx.AsyncClient, hub: Hub) -> None:
    body = b"not json"
    headers = {"x-signature": hmac.new(b"k3y", body, hashlib.sha256).hexdigest()}
    response = await anonymous.post("/hooks/sms", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_payload"


async def test_missing_secret_is_503_and_shows_in_health(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_HOOK_SECRET")
    body, headers = signed({"messages": []})
    response = await anonymous.post("/hooks/sms", content=body, headers=headers)
    assert response.status_code == 503
    sms = next(
        c for c in (await client.get("/api/v1/channels")).json()["items"] if c["name"] == "sms"
    )
    assert "TEST_HOOK_SECRET is not set" in sms["health"]["last_error"]


async def test_challenge(anonymous: httpx.AsyncClient) -> None:
    ok = await anonymous.get("/hooks/sms", params={"token": "let-me-in", "challenge": "1158201444"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = await anonymous.get("/hooks/sms", params={"token": "nope", "challenge": "1"})
    assert bad.status_code == 403


async def test_status_callbacks_and_opt_outs(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub
) -> None:
    body, headers = signed({"messages": [{"id": "SM1", "from": "+46701234567", "text": "Hej"}]})
    journey = (await anonymous.post("/hooks/sms", content=body, headers=headers)) and await scalar(
        hub, "select journey_id from messages"
    )
    reply = (
        await client.post(f"/api/v1/journeys/{journey}/messages", json={"text": "Hello!"})
    ).json()
    await Worker(hub).drain()
    sent = (await client.get(f"/api/v1/messages/{reply['id']}")).json()
    assert sent["delivery_status"] == "sent" and sent["external_id"] == f"out-{reply['id']}"
    for status in ("read", "delivered", "sent"):  # out of order: read wins
        body, headers = signed({"statuses": [{"id": sent["external_id"], "status": status}]})
        assert (
            await anonymous.post("/hooks/sms", content=body, headers=headers)
        ).status_code == 200
    assert (await client.get(f"/api/v1/messages/{reply['id']}")).json()["delivery_status"] == "read"
    body, headers = signed({"stop": ["+46701234567"]})
    await anonymous.post("/hooks/sms", content=body, headers=headers)
    customer = (await client.get(f"/api/v1/messages/{reply['id']}")).json()["customer_id"]
    consent = (await client.get(f"/api/v1/customers/{customer}")).json()["consent"]
    assert consent["sms"]["status"] == "revoked" and consent["sms"]["source"] == "STOP"
    refused = await client.post(
        f"/api/v1/journeys/{journey}/messages", json={"text": "Still there?"}
    )
    assert refused.status_code == 409 and refused.json()["error"] == "opted_out"


async def test_thread_refs_join_the_answered_conversation(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub
) -> None:
    first = {"id": "M1", "from": "+46701234567", "text": "Question A", "thread": "A"}
    other = {"id": "M2", "from": "+46701234567", "text": "Question B", "thread": "B"}
    for item in (first, other):
        body, headers = signed({"messages": [item]})
        await anonymous.post("/hooks/sms", content=body, headers=headers)
    journey = await scalar(hub, "select journey_id from messages where external_id = 'M1'")
    reply = (
        await client.post(f"/api/v1/journeys/{journey}/messages", json={"text": "Answer"})
    ).json()
    await Worker(hub).drain()
    answer = {"id": "M3", "from": "+46701234567", "text": "Thanks!", "refs": ["nope", "M1"]}
    body, headers = signed({"messages": [answer]})
    await anonymous.post("/hooks/sms", content=body, headers=headers)
    conversation_of = {}
    for ext in ("M1", "M2", "M3"):
        raw = await scalar(
            hub, "select conversation_id from messages where external_id = :e", e=ext
        )
        conversation_of[ext] = str(uuid.UUID(str(raw)))
    assert conversation_of["M3"] == conversation_of["M1"] != conversation_of["M2"]
    assert reply["conversation_id"] in {conversation_of["M2"], conversation_of["M1"]}


async def test_outbound_requests_are_queued_on_the_target_channel(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub
) -> None:
    await apply_text(
        hub,
        """
channels:
  - name: sms2
    kind: test_signed
    settings: {secret: env:TEST_HOOK_SECRET}
""",
    )
    call = {"id": "CA1", "from": "+46701234567", "text": "Incoming call", "author": "system"}
    body, headers = signed({"messages": [call], "send_link": [[0, "sms2"]]})
    assert (await anonymous.post("/hooks/sms", content=body, headers=headers)).status_code == 200
    customer = await scalar(hub, "select customer_id from messages where external_id = 'CA1'")
    timeline = (await client.get(f"/api/v1/customers/{customer}/timeline")).json()["items"]
    assert [(i["channel"], i["direction"], i["author"]) for i in timeline] == [
        ("sms", "inbound", "system"),
        ("sms2", "outbound", "system"),
    ]
    assert timeline[1]["text"].startswith("Continue here")
    await Worker(hub).drain()
    assert (await client.get(f"/api/v1/messages/{timeline[1]['message_id']}")).json()[
        "delivery_status"
    ] == "sent"
    journey = (await client.get(f"/api/v1/journeys/{timeline[0]['journey_id']}")).json()
    assert journey["channels"] == ["sms", "sms2"]


def test_nul_is_replaced_in_every_part_of_a_parsed_webhook() -> None:
    from relaydesk.channels.base import DeliveryUpdate, ParsedWebhook, without_nul

    parsed = ParsedWebhook(deliveries=[DeliveryUpdate("SM1", "failed", error="bad\x00code")])
    cleaned = without_nul(parsed)
    assert cleaned.deliveries[0].error == "bad\ufffdcode"
    assert cleaned.deliveries[0].external_id == "SM1"
