"""Twilio SMS and WhatsApp replies: the Messages API on a loopback server, retries and
errors, status callbacks, the WhatsApp 24-hour window and templates."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from tests.channels.test_twilio_common import (
    ACCOUNT,
    TOKEN,
    TOKEN_ENV,
    fixture_fields,
    post_signed,
)
from tests.channels.test_twilio_messaging import (
    CONTENT_SID,
    CUSTOMER,
    SMS_URL,
    WA_URL,
    WORKSPACE,
    consent,
    count,
    customer_of,
    form_of,
    inbound_sms,
    journey_of,
    set_up,
)
from tests.helpers.loopback import LoopbackProvider, Scripted
from tests.helpers.workspace import apply_text

from relaydesk import clock
from relaydesk.hub import Hub
from relaydesk.journeys.actions import Reply, queue_reply
from relaydesk.settings import get_settings
from relaydesk.worker import Worker


@pytest.fixture(autouse=True)
async def workspace(hub: Hub, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    await set_up(hub, provider, monkeypatch)


# --- sending and status callbacks -----------------------------------------------------------


async def reply(client: httpx.AsyncClient, journey: str, **body: Any) -> httpx.Response:
    return await client.post(f"/api/v1/journeys/{journey}/messages", json=body)


async def message(client: httpx.AsyncClient, message_id: str) -> dict[str, Any]:
    data: dict[str, Any] = (await client.get(f"/api/v1/messages/{message_id}")).json()
    return data


async def test_a_reply_is_sent_through_the_messages_api_and_tracked(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider
) -> None:
    await inbound_sms(anonymous, "Where is order 4411?", "SM1")
    provider.then(Scripted(201, {"sid": "SM55555555555555555555555555555555", "status": "queued"}))
    queued = await reply(
        client, await journey_of(hub, "SM1"), text="It ships today.", buttons=["Thanks", "Track"]
    )
    assert queued.status_code == 202
    assert provider.requests == []
    await Worker(hub).drain()
    [request] = provider.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    expected_auth = httpx.BasicAuth(ACCOUNT, TOKEN)._auth_header
    assert request.headers["authorization"] == expected_auth
    assert form_of(request) == {
        "To": CUSTOMER,
        "From": "+46701234567",
        "Body": "It ships today.\n\n1. Thanks\n2. Track",
    }
    sent = await message(client, queued.json()["id"])
    assert sent["delivery_status"] == "sent"
    assert sent["external_id"] == "SM55555555555555555555555555555555"

    for name in ("status_read.form", "status_delivered.form"):  # out of order: read wins
        fields = fixture_fields("twilio_messaging", name)
        assert (await post_signed(anonymous, SMS_URL, fields)).status_code == 200
    assert (await message(client, sent["id"]))["delivery_status"] == "read"
    assert await count(hub) == 2  # status callbacks store no messages


async def test_undelivered_and_opted_out_callbacks(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider
) -> None:
    await inbound_sms(anonymous, "Hi", "SM1")
    journey = await journey_of(hub, "SM1")
    provider.then(Scripted(201, {"sid": "SM55555555555555555555555555555555"}))
    first = (await reply(client, journey, text="one")).json()
    await Worker(hub).drain()
    fields = fixture_fields("twilio_messaging", "status_failed_21610_opted_out.form")
    assert (await post_signed(anonymous, SMS_URL, fields)).status_code == 200
    failed = await message(client, first["id"])
    assert failed["delivery_status"] == "failed" and failed["delivery_error_code"] == "21610"
    assert "opted out" in failed["delivery_error"]
    customer = await customer_of(hub, "SM1")
    assert (await consent(client, customer))["sms"]["status"] == "revoked"
    assert (await consent(client, customer))["sms"]["source"] == "provider:21610"

    await inbound_sms(anonymous, "START", "SM2")
    provider.then(Scripted(201, {"sid": "SM6" + "0" * 31}))
    second = (await reply(client, journey, text="two")).json()
    await Worker(hub).drain()
    fields = fixture_fields("twilio_messaging", "status_undelivered.form")
    fields = [(k, "SM6" + "0" * 31 if k in ("MessageSid", "SmsSid") else v) for k, v in fields]
    assert (await post_signed(anonymous, SMS_URL, fields)).status_code == 200
    undelivered = await message(client, second["id"])
    assert undelivered["delivery_status"] == "failed"
    assert undelivered["delivery_error_code"] == "30003"
    assert "unreachable" in undelivered["delivery_error"]
    assert (await consent(client, customer))["sms"]["status"] == "granted"


async def test_callbacks_for_unknown_messages_are_acknowledged(
    anonymous: httpx.AsyncClient, hub: Hub
) -> None:
    fields = fixture_fields("twilio_messaging", "status_delivered.form")
    response = await post_signed(anonymous, SMS_URL, fields)
    assert response.status_code == 200 and await count(hub) == 0


@pytest.mark.parametrize(
    ("answer", "status", "code", "words"),
    [
        (
            Scripted(400, {"code": 21211, "message": "The 'To' number +4670 is not valid"}),
            "failed",
            "21211",
            "not a valid phone number",
        ),
        (
            Scripted(400, {"code": 21610, "message": "unsubscribed recipient"}),
            "failed",
            "21610",
            "opted out",
        ),
    ],
)
async def test_permanent_send_errors(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    manual_clock: clock.ManualClock,
    answer: Scripted,
    status: str,
    code: str,
    words: str,
) -> None:
    await inbound_sms(anonymous, "Hi", "SM1")
    provider.then(answer)
    sent = (await reply(client, await journey_of(hub, "SM1"), text="x")).json()
    await Worker(hub).drain()
    manual_clock.advance(timedelta(hours=1))
    await Worker(hub).drain()
    assert len(provider.requests) == 1  # never retried
    failed = await message(client, sent["id"])
    assert (failed["delivery_status"], failed["delivery_error_code"]) == (status, code)
    assert words in failed["delivery_error"] and "+4670" not in failed["delivery_error"]
    opted_out = (await consent(client, await customer_of(hub, "SM1"))).get("sms", {})
    assert (opted_out.get("status") == "revoked") == (code == "21610")


async def test_transient_send_errors_are_retried(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    manual_clock: clock.ManualClock,
) -> None:
    await inbound_sms(anonymous, "Hi", "SM1")
    provider.then(
        Scripted(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "30"}),
        Scripted(503, b"upstream down"),
        Scripted(401, {"code": 20003, "message": "Authenticate"}),
        Scripted(201, {"sid": "SM9" + "0" * 31}),
    )
    sent = (await reply(client, await journey_of(hub, "SM1"), text="x")).json()
    worker = Worker(hub)
    await worker.drain()
    manual_clock.advance(timedelta(seconds=20))
    await worker.drain()
    assert len(provider.requests) == 1  # Retry-After honoured
    for _ in range(4):
        manual_clock.advance(timedelta(minutes=10))
        await worker.drain()
    assert len(provider.requests) == 4
    done = await message(client, sent["id"])
    assert done["delivery_status"] == "sent" and done["external_id"] == "SM9" + "0" * 31
    health = next(
        c for c in (await client.get("/api/v1/channels")).json()["items"] if c["name"] == "sms"
    )["health"]
    assert "auth_token" in health["last_error"]  # the 401 was shown to the operator


# --- WhatsApp window and templates -----------------------------------------------------------


async def inbound_whatsapp(anonymous: httpx.AsyncClient) -> None:
    fields = fixture_fields("twilio_messaging", "inbound_whatsapp.form")
    assert (await post_signed(anonymous, WA_URL, fields)).status_code == 200


async def test_whatsapp_free_form_inside_the_window(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider
) -> None:
    await inbound_whatsapp(anonymous)
    journey = await journey_of(hub, "SM44444444444444444444444444444444")
    assert (await reply(client, journey, text="Halo Dewi!")).status_code == 202
    await Worker(hub).drain()
    assert form_of(provider.requests[0]) == {
        "To": "whatsapp:+6281234567890",
        "From": "whatsapp:+14155238886",
        "Body": "Halo Dewi!",
    }


async def test_whatsapp_outside_the_window_needs_a_template(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    manual_clock: clock.ManualClock,
) -> None:
    await inbound_whatsapp(anonymous)
    journey = await journey_of(hub, "SM44444444444444444444444444444444")
    manual_clock.advance(timedelta(hours=24, minutes=1))
    refused = await reply(client, journey, text="Are you still there?")
    assert refused.status_code == 409
    assert refused.json()["error"] == "window_closed"
    assert "24 h" in refused.json()["detail"] and "template" in refused.json()["detail"]
    template = {"name": "order_update", "variables": {"1": "Dewi", "2": "4411"}}
    queued = await reply(client, journey, text="Order 4411 update (template)", template=template)
    assert queued.status_code == 202, queued.text
    await Worker(hub).drain()
    [request] = provider.requests
    assert form_of(request) == {
        "To": "whatsapp:+6281234567890",
        "From": "whatsapp:+14155238886",
        "ContentSid": CONTENT_SID,
        "ContentVariables": '{"1": "Dewi", "2": "4411"}',
    }
    assert (await message(client, queued.json()["id"]))["delivery_status"] == "sent"


async def test_whatsapp_63016_and_unknown_templates_fail_with_a_reason(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider
) -> None:
    await inbound_whatsapp(anonymous)
    journey = await journey_of(hub, "SM44444444444444444444444444444444")
    provider.then(Scripted(400, {"code": 63016, "message": "Failed to send freeform message"}))
    first = (await reply(client, journey, text="late")).json()
    second = (await reply(client, journey, text="x", template={"name": "nope"})).json()
    await Worker(hub).drain()
    window = await message(client, first["id"])
    assert window["delivery_status"] == "failed" and window["delivery_error_code"] == "63016"
    assert "24-hour window is closed" in window["delivery_error"]
    unknown = await message(client, second["id"])
    assert unknown["delivery_error_code"] == "unknown_template"
    assert "order_update" in unknown["delivery_error"]
    assert len(provider.requests) == 1
    # the same failure reported asynchronously, in a status callback
    provider.then(Scripted(201, {"sid": "SM7" + "0" * 31}))
    third = (await reply(client, journey, text="y")).json()
    await Worker(hub).drain()
    fields = [
        ("MessageSid", "SM7" + "0" * 31),
        ("MessageStatus", "failed"),
        ("ErrorCode", "63016"),
        ("AccountSid", ACCOUNT),
        ("To", "whatsapp:+6281234567890"),
        ("From", "whatsapp:+14155238886"),
    ]
    assert (await post_signed(anonymous, WA_URL, fields)).status_code == 200
    failed = await message(client, third["id"])
    assert failed["delivery_error_code"] == "63016" and "template" in failed["delivery_error"]


async def test_status_callback_and_messaging_service(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    monkeypatch: pytest.MonkeyPatch,
    manual_clock: clock.ManualClock,
) -> None:
    await apply_text(
        hub,
        WORKSPACE.format(
            account=ACCOUNT, env=TOKEN_ENV, url=provider.url, content_sid=CONTENT_SID
        ).replace(
            'phone_number: "+46701234567"',
            f"messaging_service_sid: MG{'0' * 32}\n      status_callback: true",
        ),
    )
    await inbound_sms(anonymous, "Hi", "SM1")
    monkeypatch.delenv("RELAYDESK_PUBLIC_URL", raising=False)
    get_settings.cache_clear()
    await reply(client, await journey_of(hub, "SM1"), text="one")
    await Worker(hub).drain()
    assert provider.requests == []  # status_callback: true needs the public URL
    health = next(
        c for c in (await client.get("/api/v1/channels")).json()["items"] if c["name"] == "sms"
    )["health"]
    assert "RELAYDESK_PUBLIC_URL" in health["last_error"]

    monkeypatch.setenv("RELAYDESK_PUBLIC_URL", "https://support.example.com/")
    get_settings.cache_clear()
    try:
        manual_clock.advance(timedelta(minutes=10))
        await Worker(hub).drain()
    finally:
        get_settings.cache_clear()
    [request] = provider.requests
    form = parse_qs(request.body.decode())
    assert form["MessagingServiceSid"] == [f"MG{'0' * 32}"] and "From" not in form
    assert form["StatusCallback"] == ["https://support.example.com/hooks/sms"]


async def test_attachments_go_as_media_urls_and_a_bots_choices_are_not_repeated(
    anonymous: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider
) -> None:
    await inbound_sms(anonymous, "Can I see the label?", "SM7")
    journey = uuid.UUID(await journey_of(hub, "SM7"))
    files = [
        {"url": "https://files.example.com/label.pdf", "content_type": "application/pdf"},
        {"url": "https://files.example.com/map.png", "filename": "map.png"},
        {"url": "ftp://nope.example.com/x"},  # not a URL Twilio can fetch: skipped
    ]
    choices = [{"id": "ok", "title": "Got it"}, {"id": "HUMAN_AGENT", "title": "A person"}]
    provider.then(
        Scripted(201, {"sid": "SM" + "7" * 32, "status": "queued"}),
        Scripted(201, {"sid": "SM" + "8" * 32, "status": "queued"}),
    )
    for sent in (
        Reply(text="Here it is.", meta={"attachments": files}),
        Reply(text="Anything else?\n1. Got it\n2. A person", meta={"buttons": choices}),
    ):
        await hub.db.transaction(lambda s, sent=sent: queue_reply(s, journey, sent))
    await Worker(hub).drain()
    media, bot = provider.requests
    assert parse_qs(media.body.decode())["MediaUrl"] == [
        "https://files.example.com/label.pdf",
        "https://files.example.com/map.png",
    ]
    assert form_of(media)["Body"] == "Here it is."
    assert form_of(bot)["Body"] == "Anything else?\n1. Got it\n2. A person"  # SMS: no buttons
