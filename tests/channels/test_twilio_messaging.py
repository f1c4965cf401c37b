"""Twilio SMS and WhatsApp inbound: contract tests with the shared fixtures, signed by the
SDK, against the real webhook route; opt-out keywords and consent. (Replies, status callbacks
and the WhatsApp window: test_twilio_messaging_send.py.)"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

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

from relaydesk.hub import Hub

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


async def set_up(hub: Hub, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sms and whatsapp channels, pointed at the loopback Twilio."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    await apply_text(
        hub,
        WORKSPACE.format(account=ACCOUNT, env=TOKEN_ENV, url=provider.url, content_sid=CONTENT_SID),
    )
    provider.default = Scripted(201, {"sid": "SM" + "f" * 32, "status": "queued"})


@pytest.fixture(autouse=True)
async def workspace(hub: Hub, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    await set_up(hub, provider, monkeypatch)


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


async def test_an_over_long_body_is_cut_to_the_limit_and_kept_whole_in_meta(
    anonymous: httpx.AsyncClient, hub: Hub
) -> None:
    """A provider cannot be answered 413: the text is cut to RELAYDESK_MAX_TEXT_LENGTH like an
    email's, and the whole body stays in ``meta.full_text``; a NUL is stored as U+FFFD."""
    limit = hub.settings.max_text_length
    body = "Where is my order?\u0000 " + "x" * (limit + 5_000)
    await inbound_sms(anonymous, body=body, sid="SMlong")
    text = await scalar(hub, "select text from messages")
    meta = as_json(await scalar(hub, "select meta from messages"))
    assert len(text) == limit and text.endswith("…")
    assert text.startswith("Where is my order?\ufffd ")
    assert meta["full_text"] == body.replace("\u0000", "\ufffd") and meta["cut"] is True
