"""One customer, one story: a call whose IVR sends an SMS link, the customer continuing by SMS
and finishing by email — one journey, three conversations, in order, with the context the
IVR collected carried all the way.

Every hop goes in the way the provider sends it: the call's webhooks and the SMS signed with
the twilio SDK's RequestValidator on the real ``/hooks/{channel}`` route, the email handed to
the hub's own SMTP receiver; what the hub sends goes to the loopback Twilio and to an SMTP
sink, delivered by the worker.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from tests.channels.email.peers import (
    ADDRESS,
    Delivered,
    SmtpSink,
    eventually,
    free_port,
    receiving,
    send,
)
from tests.channels.test_twilio_common import ACCOUNT, HOST, TOKEN, TOKEN_ENV, post_signed
from tests.channels.test_twilio_voice import CALL, CALLER, IVR, Call
from tests.conftest import scalar
from tests.helpers.loopback import LoopbackProvider, Scripted
from tests.helpers.workspace import apply_text

from relaydesk.hub import Hub
from relaydesk.worker import Worker

SMS_NUMBER = "+46701234567"
SMS_URL = f"{HOST}/hooks/sms"
LINK = "Continue here and skip the queue: https://example.com/c/1"

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
      phone_number: "{sms}"
      base_url: {url}
  - name: mail
    kind: email
    settings:
      address: {address}
      from_name: Shop Support
      smtp_host: 127.0.0.1
      smtp_port: {sink}
      smtp_starttls: false
      inbound_smtp_port: {inbound}
"""


@pytest.fixture
def channel_layer_only() -> None:
    """The whole hub runs here: routing, the bot and every other listener."""


@pytest.fixture
def sink() -> Any:
    server = SmtpSink().start()
    yield server
    server.stop()


def sms_from_caller(sid: str, body: str) -> list[tuple[str, str]]:
    """An inbound SMS as Twilio posts it, from the number that called."""
    return [
        ("ToCountry", "SE"),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("SmsSid", sid),
        ("SmsStatus", "received"),
        ("Body", body),
        ("FromCountry", "US"),
        ("To", SMS_NUMBER),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT),
        ("From", CALLER),
        ("ApiVersion", "2010-04-01"),
    ]


def answer_to(ours: EmailMessage, text: str) -> bytes:
    """What Kim's mail program sends on Reply: threading headers and the quoted mail."""
    message = EmailMessage()
    message["From"] = formataddr(("Kim Doe", "kim@example.com"))
    message["To"] = str(ours["From"])
    message["Subject"] = f"Re: {ours['Subject']}"
    message["Message-ID"] = make_msgid(domain="example.com")
    message["In-Reply-To"] = ours["Message-ID"]
    message["References"] = ours["Message-ID"]
    quoted = "\n".join(f"> {line}" for line in ours.get_content().splitlines())
    message.set_content(f"{text}\n\nShop Support <{ADDRESS}> wrote:\n{quoted}\n")
    return message.as_bytes()


async def journey(client: httpx.AsyncClient, journey_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/journeys/{journey_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def timeline(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/customers/{customer_id}/timeline")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    # the bot or the router may answer too (other listeners run in the worker); this story
    # is about the customer's hops and what the IVR and the agent sent
    return [item for item in items if item["author"] != "bot"]


async def test_voice_then_sms_then_email_is_one_journey(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    inbound_port = free_port()
    await apply_text(
        hub,
        WORKSPACE.format(
            account=ACCOUNT,
            env=TOKEN_ENV,
            url=provider.url,
            ivr=IVR.rstrip(),
            sms=SMS_NUMBER,
            address=ADDRESS,
            sink=sink.port,
            inbound=inbound_port,
        ),
    )
    # Twilio answers each send with the new message's own sid
    provider.then(*(Scripted(201, {"sid": f"SM{n:032d}", "status": "queued"}) for n in range(5)))

    # 1. The call: English, "an order", then 1 for the SMS link instead of waiting.
    call = Call(anonymous)
    await call.start()
    await call.press("1")
    await call.press("2")
    twiml = await call.press("1")
    assert twiml.find("Hangup") is not None
    journey_id = str(
        uuid.UUID(
            str(
                await scalar(
                    hub, "select journey_id from messages where external_id = :e", e=f"{CALL}:call"
                )
            )
        )
    )
    customer_id = (await journey(client, journey_id))["customer_id"]
    story = {"ivr_language": "en", "reason": "order", "ivr_offer": "accepted"}
    after_call = await journey(client, journey_id)
    assert after_call["context"] == story
    assert after_call["channels"] == ["phone", "sms"]  # the link is queued on sms already

    await Worker(hub).drain()
    link = [r for r in provider.requests if r.path.endswith("/Messages.json")]
    assert [dict(parse_qsl(r.body.decode())) for r in link] == [
        {"To": CALLER, "From": SMS_NUMBER, "Body": LINK}
    ]
    ended = [
        *[(k, v) for k, v in call.fields if k != "CallStatus"],
        ("CallStatus", "completed"),
        ("CallDuration", "41"),
    ]
    assert (
        await post_signed(anonymous, f"{HOST}/hooks/phone?step=status", ended)
    ).status_code == 200

    # 2. The customer follows the link's SMS thread and writes from the same phone.
    first_sms = sms_from_caller("SM" + "1" * 32, "Hi, it's order 1042, it never arrived.")
    response = await post_signed(anonymous, SMS_URL, first_sms)
    assert response.status_code == 200, response.text
    assert (await post_signed(anonymous, SMS_URL, first_sms)).status_code == 200  # a retry
    by_sms = await journey(client, journey_id)
    assert by_sms["context"] == story  # nobody asks again why they called
    assert by_sms["channels"] == ["phone", "sms"]
    assert len(by_sms["conversations"]) == 2  # the SMS joined the link's conversation

    # The agent answers by SMS, learns the email address, and follows up by email.
    reply = await client.post(
        f"/api/v1/journeys/{journey_id}/messages",
        json={"text": "Sorry Kim! What email should the return label go to?", "channel": "sms"},
    )
    assert reply.status_code == 202, reply.text
    second_sms = sms_from_caller("SM" + "2" * 32, "kim@example.com please")
    assert (await post_signed(anonymous, SMS_URL, second_sms)).status_code == 200
    patched = await client.patch(
        f"/api/v1/customers/{customer_id}", json={"email": "kim@example.com"}
    )
    assert patched.status_code == 200, patched.text
    label = await client.post(
        f"/api/v1/journeys/{journey_id}/messages",
        json={"text": "Here is your return label for order 1042.", "channel": "mail"},
    )
    assert label.status_code == 202, label.text
    await Worker(hub).drain()
    sms_replies = [
        dict(parse_qsl(r.body.decode()))["Body"]
        for r in provider.requests
        if r.path.endswith("/Messages.json")
    ]
    assert sms_replies[:2] == [LINK, "Sorry Kim! What email should the return label go to?"]
    mails: list[Delivered] = [m for m in sink.messages if m.rcpt_tos == ["kim@example.com"]]
    assert len(mails) == 1
    sent = mails[0].message
    assert sent.get_content().startswith("Here is your return label for order 1042.")

    # 3. The customer answers the email; it lands in the same journey, on a third conversation.
    async with receiving(hub, smtp_port=inbound_port):
        await send(inbound_port, answer_to(sent, "Got it, thanks!"), to=ADDRESS)

        async def answered() -> bool:
            found = await scalar(
                hub, "select count(*) from messages where text = :t", t="Got it, thanks!"
            )
            return bool(found)

        await eventually(answered)

    final = await journey(client, journey_id)
    assert final["channels"] == ["phone", "sms", "mail"]
    assert final["context"] == story
    assert final["customer_id"] == customer_id
    assert await scalar(hub, "select count(*) from journeys") == 1
    assert await scalar(hub, "select count(*) from customers") == 1

    items = await timeline(client, customer_id)
    assert {item["journey_id"] for item in items} == {journey_id}
    assert [(i["channel"], i["direction"], i["author"], i["text"]) for i in items] == [
        ("phone", "inbound", "system", "Incoming call"),
        ("phone", "inbound", "system", "IVR: language English (en)"),
        ("phone", "inbound", "system", "IVR: calling about an order (order)"),
        ("phone", "inbound", "system", "IVR: asked for a link on sms instead of waiting"),
        ("sms", "outbound", "system", LINK),
        ("phone", "inbound", "system", "Call ended after 41 s"),
        ("sms", "inbound", "customer", "Hi, it's order 1042, it never arrived."),
        ("sms", "outbound", "agent", "Sorry Kim! What email should the return label go to?"),
        ("sms", "inbound", "customer", "kim@example.com please"),
        ("mail", "outbound", "agent", "Here is your return label for order 1042."),
        ("mail", "inbound", "customer", "Got it, thanks!"),
    ]
    conversations: list[str] = []
    for item in items:
        if item["conversation_id"] not in conversations:
            conversations.append(item["conversation_id"])
    # three conversations, first used in the order phone, sms, mail
    by_id = {c["id"]: c["channel"] for c in final["conversations"]}
    assert [by_id[c] for c in conversations] == ["phone", "sms", "mail"]
    assert sorted(by_id) == sorted(conversations)
