"""Twilio SMS and WhatsApp: contract tests with the shared fixtures, signed by the SDK,
against the real webhook route, and sends to a loopback server playing Twilio's API."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import httpx
import pytest
from tests.channels.test_twilio_common import (
    ACCOUNT,
    HOST,
    TOKEN,
    TOKEN_ENV,
    fixture_fields,
    post_signed,
    twilio_signature,
)
from tests.conftest import scalar
from tests.helpers.loopback import LoopbackProvider, Recorded, Scripted
from tests.helpers.workspace import apply_text

from relaydesk import clock
from relaydesk.hub import Hub
from relaydesk.settings import get_settings
from relaydesk.worker import Worker

SMS_URL = f"{HOST}/hooks/sms"
WA_URL = f"{HOST}/hooks/whatsapp"
CONTENT_SID = "HX" + "1" * 32
CUSTOMER = "+46709876543"

WORKSPACE = """
version: 1
settings:
  name: Test shop
  default_country: SE
channels:
  - name: sms
    kind: twilio_sms
    settings:
      account_sid: {account}
      auth_token: env:{env}
      phone_number: "+46701234567"
      base_url: {url}
  - name: whatsapp
    kind: twilio_whatsapp
    settings:
      account_sid: {account}
      auth_token: env:{env}
      phone_number: "whatsapp:+14155238886"
      base_url: {url}
      templates:
        order_update: {content_sid}
"""


@pytest.fixture(autouse=True)
async def workspace(hub: Hub, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    await apply_text(
        hub,
        WORKSPACE.format(account=ACCOUNT, env=TOKEN_ENV, url=provider.url, content_sid=CONTENT_SID),
    )
    provider.default = Scripted(201, {"sid": "SM" + "f" * 32, "status": "queued"})


def as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def form_of(request: Recorded) -> dict[str, str]:
    return dict(parse_qsl(request.body.decode()))


async def count(hub: Hub, table: str = "messages") -> int:
    return int(str(await scalar(hub, f"select count(*) from {table}")))


async def customer_of(hub: Hub, external_id: str) -> str:
    return str(
        await scalar(hub, "select customer_id from messages where external_id = :e", e=external_id)
    )


async def journey_of(hub: Hub, external_id: str) -> str:
    return str(
        await scalar(hub, "select journey_id from messages where external_id = :e", e=external_id)
    )


async def inbound_sms(anonymous: httpx.AsyncClient, body: str = "Hej!", sid: str = "SM1") -> None:
    fields = fixture_fields("twilio_messaging", "inbound_sms.form")
    fields = [
        (k, body if k == "Body" else sid if k.endswith("Sid") and k != "AccountSid" else v)
        for k, v in fields
    ]
    response = await post_signed(anonymous, SMS_URL, fields)
    assert response.status_code == 200, response.text


# --- inbound ---------------------------------------------------------------------------------


async def test_inbound_sms_is_stored_once_and_answered_with_empty_twiml(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub
) -> None:
    fields = fixture_fields("twilio_messaging", "inbound_sms.form")
    response = await post_signed(anonymous, SMS_URL, fields)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    again = await post_signed(anonymous, SMS_URL, fields)  # Twilio retries
    assert again.status_code == 200
    assert await count(hub) == 1
    sid = "SM7a1c0d9e2b3f4a5c6d7e8f9012345678"
    customer = (await client.get(f"/api/v1/customers/{await customer_of(hub, sid)}")).json()
    assert customer["phone"] == CUSTOMER
    assert [(i["kind"], i["value"]) for i in customer["identities"]] == [("phone", CUSTOMER)]
    timeline = (await client.get(f"/api/v1/customers/{customer['id']}/timeline")).json()["items"]
    assert [(i["channel"], i["author"], i["text"]) for i in timeline] == [
        ("sms", "customer", "Hej! Where is my order 4411?")
    ]
    reply_to = as_json(await scalar(hub, "select reply_to from conversations"))
    assert reply_to == {"to": CUSTOMER, "from": "+46701234567"}


async def test_mms_media_urls_are_kept(anonymous: httpx.AsyncClient, hub: Hub) -> None:
    fields = fixture_fields("twilio_messaging", "inbound_mms_with_text.form")
    assert (await post_signed(anonymous, SMS_URL, fields)).status_code == 200
    meta = as_json(await scalar(hub, "select meta from messages"))
    assert meta["media"] == [
        {
            "url": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/MM2222/Media/ME3333",
            "content_type": "image/jpeg",
        }
    ]
    media_only = [(k, "" if k == "Body" else v) for k, v in fields]
    media_only = [
        (k, "MM3" if k in ("MessageSid", "SmsSid", "SmsMessageSid") else v) for k, v in media_only
    ]
    assert (await post_signed(anonymous, SMS_URL, media_only)).status_code == 200
    text = await scalar(hub, "select text from messages where external_id = 'MM3'")
    assert text == "[image/jpeg]"


async def test_inbound_whatsapp(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub
) -> None:
    fields = fixture_fields("twilio_messaging", "inbound_whatsapp.form")
    response = await post_signed(anonymous, WA_URL, fields)
    assert response.status_code == 200
    customer_id = await customer_of(hub, "SM44444444444444444444444444444444")
    customer = (await client.get(f"/api/v1/customers/{customer_id}")).json()
    assert customer["phone"] == "+6281234567890" and customer["name"] == "Dewi Lestari"
    reply_to = as_json(await scalar(hub, "select reply_to from conversations"))
    assert reply_to == {"to": "+6281234567890", "from": "+14155238886"}
    assert as_json(await scalar(hub, "select meta from messages"))["message_type"] == "text"


@pytest.mark.parametrize(
    "tamper",
    ["field", "added field", "url", "query", "missing header", "wrong token", "other channel"],
)
async def test_tampered_requests_are_401_and_store_nothing(
    anonymous: httpx.AsyncClient, hub: Hub, tamper: str, caplog: pytest.LogCaptureFixture
) -> None:
    fields = fixture_fields("twilio_messaging", "inbound_sms.form")
    url, kwargs = SMS_URL, dict[str, str]()
    if tamper == "field":
        kwargs["signature"] = twilio_signature(SMS_URL, fields)
        fields = [(k, "Send me everything" if k == "Body" else v) for k, v in fields]
    elif tamper == "added field":
        kwargs["signature"] = twilio_signature(SMS_URL, fields)
        fields = [*fields, ("Injected", "1")]
    elif tamper == "url":
        kwargs["signed_url"] = "https://elsewhere.example/hooks/sms"
    elif tamper == "query":
        url, kwargs["signed_url"] = f"{SMS_URL}?x=2", f"{SMS_URL}?x=1"
    elif tamper == "missing header":
        kwargs["signature"] = ""
    elif tamper == "wrong token":
        kwargs["token"] = "not-the-auth-token"
    elif tamper == "other channel":
        kwargs["signed_url"] = WA_URL
    response = await post_signed(anonymous, url, fields, **kwargs)
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"
    assert await count(hub) == 0 and await count(hub, "customers") == 0
    assert "order 4411" not in caplog.text and "+4670" not in caplog.text


async def test_behind_a_proxy_the_public_url_is_what_is_signed(
    anonymous: httpx.AsyncClient, hub: Hub
) -> None:
    hub.settings.public_url = "https://support.example.com"
    fields = fixture_fields("twilio_messaging", "inbound_sms.form")
    internal = await post_signed(anonymous, SMS_URL, fields)  # signed for the internal URL
    assert internal.status_code == 401
    for signed in (
        "https://support.example.com/hooks/sms",
        "https://support.example.com:443/hooks/sms",
    ):
        response = await post_signed(anonymous, SMS_URL, fields, signed_url=signed)
        assert response.status_code == 200
    assert await count(hub) == 1


async def test_short_code_senders_are_known_on_the_channel(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub
) -> None:
    fields = fixture_fields("twilio_messaging", "inbound_sms.form")
    fields = [(k, "72404" if k == "From" else v) for k, v in fields]
    assert (await post_signed(anonymous, SMS_URL, fields)).status_code == 200
    customer_id = await customer_of(hub, "SM7a1c0d9e2b3f4a5c6d7e8f9012345678")
    customer = (await client.get(f"/api/v1/customers/{customer_id}")).json()
    assert customer["phone"] is None
    assert [(i["kind"], i["value"]) for i in customer["identities"]] == [("handle", "72404")]
    reply_to = as_json(await scalar(hub, "select reply_to from conversations"))
    assert reply_to["to"] == "72404"


async def test_unreadable_webhooks_are_400(anonymous: httpx.AsyncClient, hub: Hub) -> None:
    fields = [("AccountSid", ACCOUNT), ("Body", "hi"), ("From", CUSTOMER)]  # no MessageSid
    response = await post_signed(anonymous, SMS_URL, fields)
    assert response.status_code == 400 and response.json()["error"] == "bad_payload"
    assert await count(hub) == 0


# --- consent ---------------------------------------------------------------------------------


async def consent(client: httpx.AsyncClient, customer_id: str) -> dict[str, Any]:
    data: dict[str, Any] = (await client.get(f"/api/v1/customers/{customer_id}")).json()["consent"]
    return data


async def test_stop_and_start_keywords_maintain_consent(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub
) -> None:
    await inbound_sms(anonymous, "Hello", "SM0")
    fields = fixture_fields("twilio_messaging", "inbound_sms_stop.form")
    assert (await post_signed(anonymous, SMS_URL, fields)).status_code == 200
    customer = await customer_of(hub, "SM11111111111111111111111111111111")
    assert (await consent(client, customer))["sms"]["status"] == "revoked"
    assert (await consent(client, customer))["sms"]["source"] == "keyword:STOP"
    timeline = (await client.get(f"/api/v1/customers/{customer}/timeline")).json()["items"]
    assert [i["text"] for i in timeline] == ["Hello", "STOP"]  # the keyword is still stored
    journey = await journey_of(hub, "SM0")
    refused = await client.post(f"/api/v1/journeys/{journey}/messages", json={"text": "Hi?"})
    assert refused.status_code == 409 and refused.json()["error"] == "opted_out"

    await inbound_sms(anonymous, "  start ", "SM2")
    assert (await consent(client, customer))["sms"] == {
        **(await consent(client, customer))["sms"],
        "status": "granted",
        "source": "keyword:START",
    }
    for body, sid in (("Stop please", "SM3"), ("HELP", "SM4"), ("unsubscribe me", "SM5")):
        await inbound_sms(anonymous, body, sid)
    assert (await consent(client, customer))["sms"]["status"] == "granted"  # single words only
    help_meta = as_json(await scalar(hub, "select meta from messages where external_id = 'SM4'"))
    assert help_meta["keyword"] == "HELP"
    for word, sid in (("unsubscribe", "SM6"), ("QUIT", "SM7")):
        await inbound_sms(anonymous, word, sid)
        assert (await consent(client, customer))["sms"]["status"] == "revoked"
        await inbound_sms(anonymous, "UNSTOP", sid + "b")
    assert (await consent(client, customer))["sms"]["status"] == "granted"


async def test_advanced_opt_out_type_wins(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub
) -> None:
    fields = fixture_fields("twilio_messaging", "inbound_sms.form")
    fields = [(k, "AVSLUTA" if k == "Body" else v) for k, v in fields] + [("OptOutType", "STOP")]
    assert (await post_signed(anonymous, SMS_URL, fields)).status_code == 200
    customer = await customer_of(hub, "SM7a1c0d9e2b3f4a5c6d7e8f9012345678")
    assert (await consent(client, customer))["sms"]["status"] == "revoked"


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
