"""WhatsApp Cloud API: contract tests from Meta's payloads (pywa's fixtures), signed with the
App Secret and cross-checked with pywa; replies go to a loopback server answering as Graph."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from pywa import WhatsApp
from pywa.types import Button
from pywa.types.templates import BodyText, TemplateLanguage
from pywa.utils import webhook_updates_validator
from tests.conftest import SHARED, scalar
from tests.helpers.loopback import LoopbackProvider, Scripted
from tests.helpers.workspace import apply_text

from relaydesk import clock
from relaydesk.channels import registry
from relaydesk.channels.base import OutboundMessage
from relaydesk.channels.content import Button as Choice
from relaydesk.channels.whatsapp_cloud import WhatsAppCloudChannel
from relaydesk.hub import Hub
from relaydesk.journeys.actions import Reply, ReplyRefused, queue_reply
from relaydesk.worker import Worker

FIXTURES = SHARED / "fixtures" / "channels" / "whatsapp_cloud"
SECRET, TOKEN, PHONE_ID = "wa-app-s3cret", "EAAtest-token", "1122334455667"
FIXTURE_ID = b'"id": "wamid.xyzxyz"'
SENT_AT = datetime.fromtimestamp(1697043223, UTC)  # inbound_text_message.json
SETTINGS = {
    "phone_number_id": 1122334455667,  # as an operator writes it in YAML, unquoted
    "access_token": "env:TEST_WA_TOKEN",
    "app_secret": "env:TEST_WA_APP_SECRET",
    "verify_token": "env:TEST_WA_VERIFY",
    "templates": {"order_update": {"language": "en_US", "params": ["order", "day"]}},
}


def workspace_text(url: str, **override: Any) -> str:
    channel = {"name": "wa", "kind": "whatsapp_cloud", "settings": {**SETTINGS, "base_url": url}}
    channel["settings"].update(override)
    return json.dumps({"version": 1, "channels": [channel]})  # JSON is YAML


def graph_sent(wamid: str, to: str = "972987654321") -> dict[str, Any]:
    """The Cloud API's answer to a send, as Meta documents it."""
    contacts = [{"input": to, "wa_id": to}]
    return {"messaging_product": "whatsapp", "contacts": contacts, "messages": [{"id": wamid}]}


def fixture(name: str, wamid: str | None = None) -> bytes:
    body = (FIXTURES / name).read_bytes()
    return body.replace(FIXTURE_ID, f'"id": "{wamid}"'.encode()) if wamid else body


def signed_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert webhook_updates_validator(secret, body, signature)  # pywa agrees: the peer
    return {"x-hub-signature-256": signature, "content-type": "application/json"}


def as_json(value: object) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture(autouse=True)
async def workspace(hub: Hub, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WA_APP_SECRET", SECRET)
    monkeypatch.setenv("TEST_WA_TOKEN", TOKEN)
    monkeypatch.setenv("TEST_WA_VERIFY", "meatyhamhock")
    provider.default = Scripted(200, graph_sent("wamid.OUT1"))
    await apply_text(hub, workspace_text(provider.url))


async def deliver(anonymous: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await anonymous.post("/hooks/wa", content=body, headers=signed_headers(body))


async def journey_after_inbound(anonymous: httpx.AsyncClient, hub: Hub) -> str:
    assert (await deliver(anonymous, fixture("inbound_text_message.json"))).status_code == 200
    return str(await scalar(hub, "select journey_id from messages"))


async def test_text_is_stored_once_with_the_provider_asserted_phone(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub
) -> None:
    body = fixture("inbound_text_message.json")
    response = await deliver(anonymous, body)
    assert response.status_code == 200 and response.content == b""
    assert (await deliver(anonymous, body)).status_code == 200  # Meta retries: a no-op
    assert await scalar(hub, "select count(*) from messages") == 1
    customer_id = await scalar(hub, "select customer_id from messages")
    customer = (await client.get(f"/api/v1/customers/{customer_id}")).json()
    assert customer["name"] == "Test Name"
    found = {(i["kind"], i["scope"], i["value"], i["assurance"]) for i in customer["identities"]}
    assert found >= {
        ("phone", None, "+972987654321", "provider"),
        ("whatsapp", "wa", "US.13491208655302741918", "provider"),
    }
    assert await scalar(hub, "select text from messages") == "Body Text"
    assert as_json(await scalar(hub, "select reply_to from conversations")) == {
        "to": "972987654321"
    }


RAW = (FIXTURES / "inbound_text_message.json").read_bytes()


def sig(body: bytes = RAW, key: str = SECRET, scheme: str = "sha256") -> str:
    return f"{scheme}=" + hmac.new(key.encode(), body, scheme).hexdigest()


BAD_SIGNATURES = {
    "missing": (RAW, None),
    "zeros": (RAW, "sha256=" + "0" * 64),
    "other-secret": (RAW, sig(key="another-secret")),
    "sha1": (RAW, sig(scheme="sha1")),
    "garbled": (RAW, sig().removeprefix("sha256=") + "=sha256"),
    "tampered-body": (RAW.replace(b"Body Text", b"Body Tekst"), sig()),
    "re-serialised": (RAW, sig(json.dumps(json.loads(RAW), separators=(",", ":")).encode())),
}


@pytest.mark.parametrize(("body", "header"), BAD_SIGNATURES.values(), ids=list(BAD_SIGNATURES))
async def test_bad_or_missing_signature_is_401_and_stores_nothing(
    anonymous: httpx.AsyncClient,
    hub: Hub,
    body: bytes,
    header: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if header is not None:
        assert not webhook_updates_validator(SECRET, body, header)  # pywa refuses it too
    headers = {"x-hub-signature-256": header} if header is not None else {}
    response = await anonymous.post("/hooks/wa", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"
    assert await scalar(hub, "select count(*) from messages") == 0
    assert await scalar(hub, "select count(*) from customers") == 0
    for personal in ("Body Te", "972987654321", "Test Name"):
        assert personal not in caplog.text


async def test_verification_handshake_like_meta_and_pywa(anonymous: httpx.AsyncClient) -> None:
    request_line = (FIXTURES / "verification_request.http").read_text().splitlines()[0]
    query = urlsplit(request_line.split()[1]).query
    params = dict(parse_qsl(query))
    peer = WhatsApp(phone_id=PHONE_ID, token="t", verify_token="meatyhamhock")
    ok = await anonymous.get(f"/hooks/wa?{query}")
    assert (ok.text, ok.status_code) == peer.webhook_challenge_handler(
        params["hub.verify_token"], params["hub.challenge"]
    )
    assert ok.text == "1158201444"
    wrong = {**params, "hub.verify_token": "meatyhamhocks"}
    bad = await anonymous.get("/hooks/wa", params=wrong)
    assert bad.status_code == peer.webhook_challenge_handler("meatyhamhocks", "1")[1] == 403
    missing = {k: v for k, v in params.items() if k != "hub.verify_token"}
    assert (await anonymous.get("/hooks/wa", params=missing)).status_code == 403


async def test_media_context_and_button_payloads_land_in_meta(
    anonymous: httpx.AsyncClient, hub: Hub
) -> None:
    await deliver(anonymous, fixture("inbound_image_message.json", "wamid.IMG"))
    await deliver(anonymous, fixture("inbound_interactive_reply_with_context.json", "wamid.CTX"))
    tapped = json.loads(fixture("inbound_text_message.json", "wamid.BTN"))
    message = tapped["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    reply = {"id": "HUMAN", "title": "Talk to a person"}
    message.update(type="interactive", interactive={"type": "button_reply", "button_reply": reply})
    await deliver(anonymous, json.dumps(tapped).encode())

    async def stored(external_id: str) -> tuple[str, dict[str, Any]]:
        row_text = await scalar(
            hub, "select text from messages where external_id = :e", e=external_id
        )
        meta = await scalar(hub, "select meta from messages where external_id = :e", e=external_id)
        return str(row_text), as_json(meta)

    image = {"type": "image", "id": "65463453", "mime_type": "image/jpeg", "sha256": "4654+8g="}
    assert await stored("wamid.IMG") == ("", {"attachments": [image]})
    assert await stored("wamid.CTX") == ("replied text", {"in_reply_to": "wamid.xyzxyz=="})
    assert await stored("wamid.BTN") == (
        "Talk to a person",
        {
            "kind": "button_reply",
            "payload": "HUMAN",
            "requests_human": True,
            "control": "button_reply",
        },
    )
    assert await scalar(hub, "select count(distinct conversation_id) from messages") == 1


@pytest.mark.parametrize(
    ("sub", "reply_id", "human"),
    [
        ("button_reply", "HUMAN_AGENT", True),
        ("list_reply", "talk_to_person", True),
        ("button_reply", "track", False),
    ],
)
async def test_interactive_replies_asking_for_a_person(
    anonymous: httpx.AsyncClient, hub: Hub, sub: str, reply_id: str, human: bool
) -> None:
    tapped = json.loads(fixture("inbound_text_message.json", "wamid.TAP"))
    message = tapped["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    message.update(
        type="interactive", interactive={"type": sub, sub: {"id": reply_id, "title": "Choice"}}
    )
    assert (await deliver(anonymous, json.dumps(tapped).encode())).status_code == 200
    meta = as_json(await scalar(hub, "select meta from messages"))
    assert meta["payload"] == reply_id
    assert meta.get("requests_human", False) is human
    assert meta.get("control") == (sub if human else None)


async def test_a_batch_with_many_entries_and_changes_parses_all(
    anonymous: httpx.AsyncClient, hub: Hub
) -> None:
    def change(name: str, wamid: str) -> dict[str, Any]:
        return dict(json.loads(fixture(name, wamid))["entry"][0]["changes"][0])

    foreign = change("inbound_text_message.json", "wamid.FOREIGN")
    foreign["value"]["metadata"]["phone_number_id"] = "999"  # another number of the same app
    first = [change("inbound_text_message.json", "wamid.A"), change("status_sent.json", "wamid.X")]
    second = [change("inbound_image_message.json", "wamid.B"), foreign]
    entries = [{"id": "1", "changes": first}, {"id": "2", "changes": second}]
    batch = {"object": "whatsapp_business_account", "entry": entries}
    assert (await deliver(anonymous, json.dumps(batch).encode())).status_code == 200
    assert await scalar(hub, "select count(*) from messages") == 2  # A and B; not FOREIGN
    assert await scalar(hub, "select count(*) from messages where external_id = 'wamid.A'") == 1


async def test_statuses_update_delivery_never_regress_and_carry_errors(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    manual_clock: clock.ManualClock,
) -> None:
    manual_clock.set(SENT_AT + timedelta(minutes=2))
    journey = await journey_after_inbound(anonymous, hub)
    reply = await client.post(f"/api/v1/journeys/{journey}/messages", json={"text": "On it!"})
    assert reply.status_code == 202, reply.text
    assert provider.requests == []  # nothing is sent inside the request
    await Worker(hub).drain()
    [request] = provider.requests
    assert (request.json()["to"], request.json()["type"]) == ("972987654321", "text")
    assert request.json()["text"] == {"preview_url": False, "body": "On it!"}
    message_url = f"/api/v1/messages/{reply.json()['id']}"
    sent = (await client.get(message_url)).json()
    assert (sent["delivery_status"], sent["external_id"]) == ("sent", "wamid.OUT1")
    for name in ("status_read.json", "status_delivered.json", "status_sent.json"):
        assert (await deliver(anonymous, fixture(name, "wamid.OUT1"))).status_code == 200
    assert (await client.get(message_url)).json()["delivery_status"] == "read"
    provider.default = Scripted(200, graph_sent("wamid.OUT2"))
    second = (await client.post(f"/api/v1/journeys/{journey}/messages", json={"text": "Hi"})).json()
    await Worker(hub).drain()
    await deliver(anonymous, fixture("status_failed.json", "wamid.OUT2"))
    failed = (await client.get(f"/api/v1/messages/{second['id']}")).json()
    assert (failed["delivery_status"], failed["delivery_error_code"]) == ("failed", "130472")
    assert "experiment" in failed["delivery_error"]


async def test_marketing_stop_and_resume_are_consent_changes(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    manual_clock: clock.ManualClock,
) -> None:
    manual_clock.set(SENT_AT + timedelta(minutes=2))
    from_other = fixture("inbound_text_message.json").replace(b"972987654321", b"16505551234")
    await deliver(anonymous, from_other)
    customer_id = await scalar(hub, "select customer_id from messages")
    as_sent = fixture("user_preferences_marketing_resume.json")
    other_number = as_sent.replace(b'"value": "resume"', b'"value": "stop"')
    assert (await deliver(anonymous, other_number)).status_code == 200
    customer = (await client.get(f"/api/v1/customers/{customer_id}")).json()
    assert customer["consent"] == {}  # that notification is for another number of the app
    resume = as_sent.replace(b"106540352242922", PHONE_ID.encode())
    stop = resume.replace(b'"value": "resume"', b'"value": "stop"')

    async def consent() -> tuple[str, str]:
        kept = (await client.get(f"/api/v1/customers/{customer_id}")).json()["consent"]
        assert "wa" not in kept  # only marketing: the channel itself stays open
        return kept["wa:marketing"]["status"], kept["wa:marketing"]["source"]

    journey = uuid.UUID(str(await scalar(hub, "select journey_id from messages")))

    async def marketing() -> str:
        offer = Reply(text="20% off this week", author_type="system", meta={"purpose": "marketing"})
        try:
            await hub.db.transaction(lambda s: queue_reply(s, journey, offer))
        except ReplyRefused as exc:
            return f"{exc.code}: {exc.reason}"
        return "queued"

    assert (await deliver(anonymous, stop)).status_code == 200
    assert await consent() == ("revoked", "whatsapp:marketing_messages:stop")
    assert await marketing() == (
        "opted_out: the customer opted out of marketing messages on wa; reply on another channel"
    )
    service = await client.post(f"/api/v1/journeys/{journey}/messages", json={"text": "On it!"})
    assert service.status_code == 202, service.text  # a service reply still goes
    await deliver(anonymous, resume)
    assert await consent() == ("granted", "whatsapp:marketing_messages:resume")
    assert await marketing() == "queued"


def adapter(url: str) -> WhatsAppCloudChannel:
    built = registry.build_adapter("wa", "whatsapp_cloud", {**SETTINGS, "base_url": url})
    assert isinstance(built, WhatsAppCloudChannel)
    return built


def pywa_request(send: Any) -> dict[str, Any]:
    """The JSON pywa posts for the same message (captured, never sent)."""
    captured: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        captured.append(json.loads(request.content))
        return httpx.Response(200, json=graph_sent("wamid.PYWA"))

    session = httpx.Client(transport=httpx.MockTransport(answer))
    send(WhatsApp(phone_id=PHONE_ID, token="t", session=session))
    return captured[0]


async def test_sends_are_the_documented_requests_and_buttons_match_pywa(
    provider: LoopbackProvider,
) -> None:
    documented = json.loads((FIXTURES / "send_text_request.json").read_bytes())
    to = {"to": "972987654321"}
    async with httpx.AsyncClient() as http:
        wa = adapter(provider.url)
        text = documented["text"]["body"]
        result = await wa.send(OutboundMessage("m0", text, {"to": documented["to"]}), http)
        await wa.mark_read("wamid.xyzxyz", http)
        yes_no = (Choice("yes", "Yes"), Choice("no", "No"))
        await wa.send(OutboundMessage("m1", "Did that help?", to, yes_no), http)
        many = tuple(Choice(t.lower(), t) for t in ("Track", "Return", "Exchange", "Person"))
        await wa.send(OutboundMessage("m2", "Pick one", to, many), http)
        long = (Choice("y", "Yes"), Choice("l", "A title longer than twenty"))
        await wa.send(OutboundMessage("m3", "Sure?", to, long), http)
    assert result.external_id == "wamid.OUT1"
    send, read, buttons, numbered, too_long = provider.requests
    assert send.json() == documented
    assert read.json() == json.loads((FIXTURES / "mark_as_read_request.json").read_bytes())
    proof = hmac.new(SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
    assert send.method == "POST"
    assert send.path == f"/v25.0/{PHONE_ID}/messages?appsecret_proof={proof}"
    assert send.headers["authorization"] == f"Bearer {TOKEN}"
    choices = [Button(title="Yes", callback_data="yes"), Button(title="No", callback_data="no")]
    assert buttons.json() == pywa_request(
        lambda peer: peer.send_message(to="972987654321", text="Did that help?", buttons=choices)
    )
    body = numbered.json()["text"]["body"]
    assert body == "Pick one\n\n1. Track\n2. Return\n3. Exchange\n4. Person"
    assert too_long.json()["text"]["body"] == "Sure?\n\n1. Yes\n2. A title longer than twenty"


async def test_free_form_after_24_hours_is_refused_and_a_template_is_sent(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    manual_clock: clock.ManualClock,
) -> None:
    manual_clock.set(SENT_AT + timedelta(minutes=2))
    journey = await journey_after_inbound(anonymous, hub)
    manual_clock.advance(timedelta(hours=25))
    url = f"/api/v1/journeys/{journey}/messages"
    refused = await client.post(url, json={"text": "Are you still there?"})
    assert (refused.status_code, refused.json()["error"]) == (409, "window_closed")
    assert "template" in refused.json()["detail"]
    template = {"name": "order_update", "params": {"order": "1042", "day": "Friday"}}
    queued = await client.post(url, json={"text": "Order 1042 ships Friday", "template": template})
    assert queued.status_code == 202, queued.text
    unknown = await client.post(url, json={"text": "x", "template": {"name": "promo"}})
    await Worker(hub).drain()
    [request] = provider.requests
    expected = pywa_request(
        lambda peer: peer.send_template(
            to="972987654321",
            name="order_update",
            language=TemplateLanguage.ENGLISH_US,
            params=[BodyText.params("1042", "Friday")],
        )
    )
    for component in expected["template"]["components"]:
        component["type"] = component["type"].lower()  # Meta's docs spell it "body"
    assert request.json() == expected
    failed = (await client.get(f"/api/v1/messages/{unknown.json()['id']}")).json()
    assert (failed["delivery_status"], failed["delivery_error_code"]) == (
        "failed",
        "unknown_template",
    )
    assert "settings.templates" in failed["delivery_error"]


def graph_error(code: int, details: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": f"(#{code}) error", "type": "OAuthException", "code": code}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": {**error, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}}


async def test_re_engagement_fails_clearly_and_throughput_waits_for_retry_after(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    manual_clock: clock.ManualClock,
) -> None:
    manual_clock.set(SENT_AT + timedelta(minutes=2))
    journey = await journey_after_inbound(anonymous, hub)
    url = f"/api/v1/journeys/{journey}/messages"
    window = "Message failed to send because more than 24 hours have passed since the customer"
    provider.then(Scripted(400, graph_error(131047, window)))
    refused = (await client.post(url, json={"text": "Hi"})).json()
    worker = Worker(hub)
    await worker.drain()
    failed = (await client.get(f"/api/v1/messages/{refused['id']}")).json()
    assert (failed["delivery_status"], failed["delivery_error_code"]) == ("failed", "131047")
    assert "approved template" in failed["delivery_error"]
    assert "Az8or2yhqkZfEZ-_4Qn_Bam" in failed["delivery_error"]  # for Meta support

    provider.then(Scripted(400, graph_error(130429), {"Retry-After": "90"}))
    limited = (await client.post(url, json={"text": "Hi again"})).json()
    await worker.drain()
    manual_clock.advance(timedelta(seconds=60))
    await worker.drain()
    assert len(provider.requests) == 2  # the failed one was not retried; no resend before 90 s
    manual_clock.advance(timedelta(seconds=31))
    await worker.drain()
    assert len(provider.requests) == 3
    sent = (await client.get(f"/api/v1/messages/{limited['id']}")).json()
    assert sent["delivery_status"] == "sent"


async def test_secrets_must_be_env_references(hub: Hub) -> None:
    with pytest.raises(Exception, match="access_token"):
        await apply_text(hub, workspace_text("https://x.test", access_token="EAAplaintext"))


async def test_a_bots_buttons_travel_from_queue_reply_to_the_provider(
    anonymous: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    manual_clock: clock.ManualClock,
) -> None:
    """The bot's contract: ``meta["buttons"]`` as {id, title}; up to 3 are reply buttons whose
    ids come back on a press, more stay as the numbered lines the text already has."""
    manual_clock.set(SENT_AT + timedelta(minutes=2))
    journey = uuid.UUID(await journey_after_inbound(anonymous, hub))
    three = [
        {"id": "track", "title": "Track my order"},
        {"id": "return", "title": "Return it"},
        {"id": "HUMAN_AGENT", "title": "Talk to a person"},
    ]
    four = [*three, {"id": "other", "title": "Something else"}]
    listed = (
        "What can I do?\n1. Track my order\n2. Return it\n3. Talk to a person\n4. Something else"
    )
    provider.then(Scripted(200, graph_sent("wamid.B1")), Scripted(200, graph_sent("wamid.B2")))
    for text_, buttons in (("What can I do?", three), (listed, four)):
        bot = Reply(text=text_, author_type="bot", meta={"buttons": buttons})
        await hub.db.transaction(lambda s, bot=bot: queue_reply(s, journey, bot))
    await Worker(hub).drain()
    interactive, numbered = (r.json() for r in provider.requests)
    assert interactive["type"] == "interactive"
    assert interactive["interactive"] == {
        "type": "button",
        "body": {"text": "What can I do?"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": b["id"], "title": b["title"]}} for b in three
            ]
        },
    }
    assert numbered["type"] == "text" and numbered["text"]["body"] == listed  # not repeated
    stored = as_json(await scalar(hub, "select meta from messages where external_id = 'wamid.B1'"))
    assert stored["buttons"] == three
