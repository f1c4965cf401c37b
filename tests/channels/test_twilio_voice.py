"""Twilio Voice with the digital IVR, driven the way Twilio drives it: every request signed
by the SDK's RequestValidator, the returned TwiML parsed, and the next request POSTed to the
<Gather action> (with Digits or SpeechResult) or the <Redirect> URL it names."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
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
from tests.helpers.loopback import LoopbackProvider, Scripted
from tests.helpers.workspace import apply_text

from relaydesk.hub import Hub
from relaydesk.worker import Worker

VOICE_URL = f"{HOST}/hooks/phone"
CALLER = "+14158675309"
CALL = "CA1234567890ABCDE"

IVR = """
      ivr:
        languages:
          - code: en
            name: English
            say_language: en-GB
            choose: "For English, press {digit}."
            welcome: "Welcome to Example Shop."
            reason: "What is your call about?"
            option: "For {label}, press {digit}."
            offer: "Press 1 and we will text you a link to skip the queue. Press 2 to wait."
            link_sent: "We have sent you a text message with a link. Goodbye!"
            queue: "Thank you. Please hold for the next available person."
            retry: "Sorry, I did not get that."
          - code: sv
            name: Svenska
            say_language: sv-SE
            voice: Polly.Astrid
            choose: "För svenska, tryck {digit}."
            welcome: "Välkommen till Exempelbutiken."
            reason: "Vad gäller ditt samtal?"
            option: "För {label}, tryck {digit}."
            offer: "Tryck 1 för en sms-länk och slipp kön. Tryck 2 för att vänta."
            link_sent: "Vi har skickat ett sms med en länk. Hej då!"
            queue: "Tack. Vänta kvar så kopplas du till nästa lediga person."
            retry: "Förlåt, det uppfattade jag inte."
        reasons:
          - key: billing
            label: {en: billing and invoices, sv: fakturor}
          - key: order
            label: {en: an order, sv: en beställning}
        offer:
          channel: sms
          text:
            en: "Continue here and skip the queue: https://example.com/c/1"
            sv: "Fortsätt här och slipp kön: https://example.com/c/1"
        queue: support
"""

WORKSPACE = """
version: 1
channels:
  - name: phone
    kind: twilio_voice
    settings:
      account_sid: {account}
      auth_token: env:{env}
      phone_number: "+18005551212"
      base_url: {url}
{ivr}
  - name: sms
    kind: twilio_sms
    settings:
      account_sid: {account}
      auth_token: env:{env}
      phone_number: "+46701234567"
      base_url: {url}
"""


def workspace_text(url: str, ivr: str = IVR) -> str:
    return WORKSPACE.format(account=ACCOUNT, env=TOKEN_ENV, url=url, ivr=ivr.rstrip())


async def set_up(hub: Hub, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """The phone channel with the IVR above and the sms channel, on the loopback Twilio."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    await apply_text(hub, workspace_text(provider.url))
    provider.default = Scripted(201, {"sid": "SM" + "a" * 32, "status": "queued"})


@pytest.fixture(autouse=True)
async def workspace(hub: Hub, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    await set_up(hub, provider, monkeypatch)


class Call:
    """Plays Twilio for one call: signed POSTs, following the TwiML it gets back."""

    def __init__(self, http: httpx.AsyncClient, fields: list[tuple[str, str]] | None = None):
        self.http = http
        self.fields = fields or fixture_fields("twilio_voice", "incoming_call.form")
        self.twiml: ET.Element | None = None

    async def post(self, url: str, extra: Sequence[tuple[str, str]] = ()) -> ET.Element:
        fields = [(k, v) for k, v in self.fields if k != "CallStatus"]
        status = "ringing" if self.twiml is None else "in-progress"
        response = await post_signed(self.http, url, [*fields, ("CallStatus", status), *extra])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/xml")
        self.twiml = ET.fromstring(response.content)
        return self.twiml

    async def start(self) -> ET.Element:
        return await self.post(VOICE_URL)

    def gather(self) -> ET.Element:
        assert self.twiml is not None
        gather = self.twiml.find("Gather")
        assert gather is not None, ET.tostring(self.twiml)
        assert gather.get("method") == "POST"
        return gather

    async def press(self, digits: str) -> ET.Element:
        action = self.gather().get("action")
        assert action is not None
        return await self.post(action, [("Digits", digits)])

    async def say(self, words: str) -> ET.Element:
        gather = self.gather()
        assert "speech" in (gather.get("input") or "")
        return await self.post(
            gather.get("action") or "", [("SpeechResult", words), ("Confidence", "0.91")]
        )

    async def stay_silent(self) -> ET.Element:
        """No input: Twilio falls through the Gather to the next verb, the Redirect."""
        assert self.twiml is not None
        redirect = self.twiml.find("Redirect")
        assert redirect is not None and redirect.text
        return await self.post(redirect.text)

    def said(self) -> list[tuple[str | None, str | None]]:
        assert self.twiml is not None
        return [(say.get("language"), say.text) for say in self.twiml.iter("Say")]


def as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def journey_of_call(hub: Hub) -> str:
    return str(
        await scalar(
            hub, "select journey_id from messages where external_id = :e", e=f"{CALL}:call"
        )
    )


async def timeline(client: httpx.AsyncClient, hub: Hub) -> list[dict[str, Any]]:
    customer = await scalar(
        hub, "select customer_id from messages where external_id = :e", e=f"{CALL}:call"
    )
    items: list[dict[str, Any]] = (
        await client.get(f"/api/v1/customers/{customer}/timeline")
    ).json()["items"]
    return items


async def test_a_whole_call_language_reason_then_the_sms_link(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider
) -> None:
    call = Call(anonymous)
    twiml = await call.start()
    gather = call.gather()
    assert gather.get("action") == f"{VOICE_URL}?step=language&attempt=1"
    assert (gather.get("input"), gather.get("numDigits"), gather.get("timeout")) == (
        "dtmf",
        "1",
        "5",
    )
    assert call.said() == [("en-GB", "For English, press 1."), ("sv-SE", "För svenska, tryck 2.")]
    assert [say.get("voice") for say in twiml.iter("Say")] == [None, "Polly.Astrid"]

    await call.press("2")
    assert call.said() == [
        ("sv-SE", "Välkommen till Exempelbutiken."),
        ("sv-SE", "Vad gäller ditt samtal?"),
        ("sv-SE", "För fakturor, tryck 1."),
        ("sv-SE", "För en beställning, tryck 2."),
    ]
    gather = call.gather()
    assert gather.get("input") == "dtmf speech" and gather.get("language") == "sv-SE"
    assert gather.get("hints") == "fakturor, en beställning"

    await call.press("1")
    assert call.said()[0][1] and call.said()[0][1].startswith("Tryck 1 för en sms-länk")
    assert call.gather().get("action") == f"{VOICE_URL}?step=offer&lang=sv&reason=billing&attempt=1"

    twiml = await call.press("1")
    assert call.said() == [("sv-SE", "Vi har skickat ett sms med en länk. Hej då!")]
    assert twiml.find("Hangup") is not None and twiml.find("Gather") is None
    assert provider.requests == []  # nothing is sent inside a webhook

    journey = (await client.get(f"/api/v1/journeys/{await journey_of_call(hub)}")).json()
    assert journey["context"] == {
        "ivr_language": "sv",
        "reason": "billing",
        "ivr_offer": "accepted",
    }
    assert journey["channels"] == ["phone", "sms"]
    items = await timeline(client, hub)
    assert [(i["channel"], i["direction"], i["author"], i["text"]) for i in items] == [
        ("phone", "inbound", "system", "Incoming call"),
        ("phone", "inbound", "system", "IVR: language Svenska (sv)"),
        ("phone", "inbound", "system", "IVR: calling about fakturor (billing)"),
        ("phone", "inbound", "system", "IVR: asked for a link on sms instead of waiting"),
        ("sms", "outbound", "system", "Fortsätt här och slipp kön: https://example.com/c/1"),
    ]
    customer = (await client.get(f"/api/v1/customers/{journey['customer_id']}")).json()
    assert customer["phone"] == CALLER

    await Worker(hub).drain()
    [request] = provider.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert dict(parse_qsl(request.body.decode())) == {
        "To": CALLER,
        "From": "+46701234567",
        "Body": "Fortsätt här och slipp kön: https://example.com/c/1",
    }
    link = items[-1]
    assert (await client.get(f"/api/v1/messages/{link['message_id']}")).json()[
        "delivery_status"
    ] == "sent"

    ended = fixture_fields("twilio_voice", "status_callback_completed.form")
    response = await post_signed(anonymous, VOICE_URL, ended)
    assert response.status_code == 200
    assert (await post_signed(anonymous, VOICE_URL, ended)).status_code == 200  # a retry
    items = await timeline(client, hub)
    assert [i["text"] for i in items].count("Call ended after 9 s") == 1
    meta = as_json(
        await scalar(hub, "select meta from messages where external_id = :e", e=f"{CALL}:end")
    )
    assert meta["duration_s"] == 9 and meta["call_status"] == "completed"
    journey = (await client.get(f"/api/v1/journeys/{journey['id']}")).json()
    assert journey["context"]["reason"] == "billing"  # the journey and its story are kept


async def test_silence_repeats_the_menu_then_takes_the_default(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub
) -> None:
    call = Call(anonymous)
    await call.start()
    await call.stay_silent()
    assert call.said()[0] == ("en-GB", "Sorry, I did not get that.")
    assert call.gather().get("action") == f"{VOICE_URL}?step=language&attempt=2"
    await call.press("7")  # no such language: like silence, but this was the last attempt
    assert call.said()[:2] == [
        ("en-GB", "Welcome to Example Shop."),
        ("en-GB", "What is your call about?"),
    ]
    await call.say("Hi, it's about my invoice from March")
    await call.stay_silent()
    await call.stay_silent()  # no answer to the offer twice: the caller waits for a person
    assert call.twiml is not None and call.twiml.findtext("Enqueue") == "support"
    journey = (await client.get(f"/api/v1/journeys/{await journey_of_call(hub)}")).json()
    assert journey["context"] == {
        "ivr_language": "en",
        "reason": "billing",
        "ivr_offer": "declined",
    }
    texts = [i["text"] for i in await timeline(client, hub)]
    assert texts == [
        "Incoming call",
        "IVR: no language chosen; continuing in English",
        "IVR: calling about billing and invoices (billing) (said: \"Hi, it's about my invoice "
        'from March")',
        "IVR: waiting for a person (no choice made)",
    ]


async def test_pressing_2_queues_the_call_for_a_person(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider
) -> None:
    call = Call(anonymous)
    await call.start()
    await call.press("1")
    await call.press("9")  # not a reason: asked again
    assert call.said()[0] == ("en-GB", "Sorry, I did not get that.")
    await call.press("2")
    twiml = await call.press("2")
    assert call.said() == [("en-GB", "Thank you. Please hold for the next available person.")]
    assert twiml.findtext("Enqueue") == "support"
    journey = (await client.get(f"/api/v1/journeys/{await journey_of_call(hub)}")).json()
    assert journey["context"] == {"ivr_language": "en", "reason": "order", "ivr_offer": "declined"}
    assert journey["channels"] == ["phone"]
    await Worker(hub).drain()
    assert provider.requests == []


@pytest.mark.parametrize("tamper", ["step", "digits", "missing"])
async def test_tampered_ivr_requests_are_refused(
    anonymous: httpx.AsyncClient, hub: Hub, tamper: str
) -> None:
    call = Call(anonymous)
    await call.start()
    await call.press("1")
    await call.press("1")
    before = await scalar(hub, "select count(*) from messages")
    action = call.gather().get("action") or ""
    fields = [*call.fields, ("Digits", "1")]
    if tamper == "step":  # signed for the offer step, sent to another URL
        response = await post_signed(
            anonymous, action.replace("reason=billing", "reason=order"), fields, signed_url=action
        )
    elif tamper == "digits":
        signature = twilio_signature(action, [*call.fields, ("Digits", "2")])
        response = await post_signed(anonymous, action, fields, signature=signature)
    else:
        response = await post_signed(anonymous, action, fields, signature="")
    assert response.status_code == 401
    assert await scalar(hub, "select count(*) from messages") == before
    assert await scalar(hub, "select count(*) from messages where direction = 'outbound'") == 0


@pytest.mark.parametrize("withheld", ["anonymous", "+266696687", "+86282452253"])
async def test_anonymous_callers_and_unanswered_calls(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub, withheld: str
) -> None:
    fields = [
        (k, withheld if k in ("From", "Caller") else v)
        for k, v in fixture_fields("twilio_voice", "incoming_call.form")
    ]
    call = Call(anonymous, fields)
    await call.start()
    canceled = [(k, v) for k, v in fields if k != "CallStatus"] + [("CallStatus", "canceled")]
    assert (await post_signed(anonymous, f"{VOICE_URL}?step=status", canceled)).status_code == 200
    items = await timeline(client, hub)
    assert [i["text"] for i in items] == ["Incoming call", "Call hung up before it was answered"]
    customer_id = await scalar(
        hub, "select customer_id from messages where external_id = :e", e=f"{CALL}:end"
    )
    customer = (await client.get(f"/api/v1/customers/{customer_id}")).json()
    assert customer["phone"] is None
    assert [(i["kind"], i["value"]) for i in customer["identities"]] == [("handle", f"call:{CALL}")]


async def test_a_written_reply_on_the_voice_channel_is_refused_with_a_reason(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider
) -> None:
    call = Call(anonymous)
    await call.start()
    journey = await journey_of_call(hub)
    url = f"/api/v1/journeys/{journey}/messages"
    on_phone = await client.post(url, json={"text": "x", "channel": "phone"})
    assert (on_phone.status_code, on_phone.json()["error"]) == (409, "no_written_replies")
    assert "reply on another channel" in on_phone.json()["detail"]
    unnamed = await client.post(url, json={"text": "x"})  # the journey has only the call
    assert (unnamed.status_code, unnamed.json()["error"]) == (409, "no_written_replies")
    assert await scalar(hub, "select count(*) from messages where direction = 'outbound'") == 0

    for digits in ("1", "1", "1"):  # English, billing, the SMS link
        await call.press(digits)
    call_ended = [*call.fields, ("CallStatus", "completed"), ("CallDuration", "5")]
    await post_signed(anonymous, f"{VOICE_URL}?step=status", call_ended)  # the call is newest
    unnamed = await client.post(url, json={"text": "Did the link arrive?"})
    assert unnamed.status_code == 202, unnamed.text
    assert unnamed.json()["channel"] == "sms"  # not the call, though it was the last contact
    await Worker(hub).drain()
    assert [dict(parse_qsl(r.body.decode()))["Body"] for r in provider.requests] == [
        "Continue here and skip the queue: https://example.com/c/1",
        "Did the link arrive?",
    ]


async def test_a_retried_offer_webhook_sends_the_link_once(
    anonymous: httpx.AsyncClient, hub: Hub
) -> None:
    call = Call(anonymous)
    await call.start()
    await call.press("1")
    await call.press("1")
    action = call.gather().get("action") or ""
    fields = [*call.fields, ("Digits", "1")]
    for _ in range(2):
        assert (await post_signed(anonymous, action, fields)).status_code == 200
    queued = await scalar(hub, "select count(*) from messages where direction = 'outbound'")
    assert queued == 1
