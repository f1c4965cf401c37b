"""Replies by SMTP: an aiosmtpd server in the test receives what the hub sends."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from tests.channels.email.peers import (
    ADDRESS,
    SmtpSink,
    apply_email_channel,
    customer_mail,
    free_port,
    receiving,
    send,
)
from tests.conftest import scalar
from tests.helpers.workspace import apply_text

from relaydesk import clock
from relaydesk.channels.base import OutboundMessage
from relaydesk.channels.email import EmailChannel
from relaydesk.channels.registry import build_adapter
from relaydesk.hub import Hub
from relaydesk.worker import Worker
from relaydesk.workspace.file import WorkspaceFileError, parse_workspace


async def journey_with_email(hub: Hub, sink: SmtpSink, **settings: str) -> str:
    extra = "".join(f"\n      {key}: {value}" for key, value in settings.items())
    port = await apply_email_channel(hub, sink, extra=extra)
    async with receiving(hub, smtp_port=port):
        await send(port, customer_mail(), to=ADDRESS)
    return str(await scalar(hub, "select journey_id from messages"))


async def reply(client: httpx.AsyncClient, journey: str, **body: object) -> dict[str, object]:
    response = await client.post(f"/api/v1/journeys/{journey}/messages", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


async def message(client: httpx.AsyncClient, message_id: object) -> dict[str, object]:
    return dict((await client.get(f"/api/v1/messages/{message_id}")).json())


async def test_reply_headers(hub: Hub, client: httpx.AsyncClient, sink: SmtpSink) -> None:
    journey = await journey_with_email(hub, sink)
    queued = await reply(client, journey, text="Hi Kim, it left our warehouse today.")
    assert sink.messages == []  # nothing is sent inside the request
    await Worker(hub).drain()
    [delivered] = sink.messages
    assert delivered.mail_from == ADDRESS  # bounces come back to the channel
    assert delivered.rcpt_tos == ["kim@example.com"]
    mail = delivered.message
    assert mail["From"] == f"Shop Support <{ADDRESS}>"
    assert mail["To"] == "kim@example.com"
    assert mail["Subject"] == "Re: Order 1042"
    assert mail["In-Reply-To"] == "<q1@example.com>"
    assert mail["References"] == "<q1@example.com>"
    assert mail["Message-ID"] == f"<relaydesk.{queued['id']}@shop.example>"
    assert mail["Date"] is not None
    assert mail["Auto-Submitted"] is None  # a person wrote it
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().strip() == "Hi Kim, it left our warehouse today."
    stored = await message(client, queued["id"])
    assert stored["delivery_status"] == "sent"
    assert stored["external_id"] == mail["Message-ID"]  # so the customer's answer threads
    await Worker(hub).drain()
    assert len(sink.messages) == 1  # delivered once


async def test_buttons_become_numbered_lines_and_text_is_utf8(
    hub: Hub, client: httpx.AsyncClient, sink: SmtpSink
) -> None:
    journey = await journey_with_email(hub, sink)
    await reply(
        client, journey, text="Hej Kim! Vad vill du göra?", buttons=["Byta", "Återbetalning"]
    )
    await Worker(hub).drain()
    body = sink.messages[0].message.get_content().replace("\r\n", "\n")
    assert body == "Hej Kim! Vad vill du göra?\n\n1. Byta\n2. Återbetalning\n"


@pytest.mark.parametrize("author", ["bot", "system"])
async def test_automatic_messages_are_marked_auto_replied(sink: SmtpSink, author: str) -> None:
    adapter = build_adapter(
        "mail",
        "email",
        {
            "address": ADDRESS,
            "smtp_host": "127.0.0.1",
            "smtp_port": sink.port,
            "smtp_starttls": False,
        },
    )
    reply_to = {
        "to": "kim@example.com",
        "subject": "Re: x",
        "in_reply_to": "<q@x>",
        "references": ["<q@x>"],
    }
    for meta in ({"author_type": author}, {"author_type": "agent"}):
        result = await adapter.send(
            OutboundMessage("01a20000-0000-7000-8000-00000000000a", "Thanks!", reply_to, meta=meta),
            httpx.AsyncClient(),
        )
        assert result.external_id == "<relaydesk.01a20000-0000-7000-8000-00000000000a@shop.example>"
    automatic, personal = (d.message for d in sink.messages)
    assert automatic["Auto-Submitted"] == "auto-replied"
    assert personal["Auto-Submitted"] is None
    assert automatic["From"] == ADDRESS  # no from_name configured


async def test_bot_reply_through_the_worker_is_auto_submitted(
    hub: Hub, client: httpx.AsyncClient, sink: SmtpSink
) -> None:
    journey = await journey_with_email(hub, sink)
    await reply(client, journey, text="I can help with that.", author_type="bot")
    await Worker(hub).drain()
    assert sink.messages[0].message["Auto-Submitted"] == "auto-replied"


async def test_refused_recipient_fails_temporary_refusal_retries(
    hub: Hub, client: httpx.AsyncClient, sink: SmtpSink, manual_clock: clock.ManualClock
) -> None:
    journey = await journey_with_email(hub, sink)
    sink.handler.refuse["kim@example.com"] = "450 4.2.0 <kim@example.com>: mailbox busy"
    first = await reply(client, journey, text="one")
    await Worker(hub).drain()
    assert (await message(client, first["id"]))["delivery_status"] == "queued"  # retried later
    sink.handler.refuse["kim@example.com"] = "550 5.1.1 <kim@example.com>: no such user"
    manual_clock.advance(timedelta(minutes=5))
    await Worker(hub).drain()
    failed = await message(client, first["id"])
    assert failed["delivery_status"] == "failed" and failed["delivery_error_code"] == "550"
    assert "no such user" in str(failed["delivery_error"])
    assert "kim@example.com" not in str(failed["delivery_error"])  # addresses are redacted
    assert sink.messages == []


async def test_unreachable_server_is_transient(
    hub: Hub, client: httpx.AsyncClient, sink: SmtpSink, manual_clock: clock.ManualClock
) -> None:
    journey = await journey_with_email(hub, sink)
    sink.stop()
    queued = await reply(client, journey, text="one")
    await Worker(hub).drain()
    assert (await message(client, queued["id"]))["delivery_status"] == "queued"
    channel = next(
        c for c in (await client.get("/api/v1/channels")).json()["items"] if c["name"] == "mail"
    )
    assert "unreachable" in channel["health"]["last_error"]
    back = SmtpSink(port=sink.port).start()  # the server is back: the retry delivers
    try:
        manual_clock.advance(timedelta(minutes=10))
        await Worker(hub).drain()
        assert (await message(client, queued["id"]))["delivery_status"] == "sent"
        assert len(back.messages) == 1
    finally:
        back.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_login_and_starttls(
    hub: Hub, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = SmtpSink(login=("support", "pa55")).start()
    try:
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
        journey = await journey_with_email(
            hub, sink, smtp_username="support", smtp_password="env:TEST_SMTP_PASSWORD"
        )
        queued = await reply(client, journey, text="one")
        await Worker(hub).drain()
        assert (await message(client, queued["id"]))["delivery_status"] == "queued"
        channels = (await client.get("/api/v1/channels")).json()["items"]
        assert (
            "refused the login"
            in next(c for c in channels if c["name"] == "mail")["health"]["last_error"]
        )
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "pa55")
        adapter = build_adapter(
            "mail",
            "email",
            {
                "address": ADDRESS,
                "smtp_host": "127.0.0.1",
                "smtp_port": sink.port,
                "smtp_starttls": False,
                "smtp_username": "support",
                "smtp_password": "env:TEST_SMTP_PASSWORD",
            },
        )
        outbound = OutboundMessage("m-1", "hello", {"to": "kim@example.com"})
        assert (await adapter.send(outbound, httpx.AsyncClient())).status == "sent"
        assert sink.messages[-1].message["Subject"] == "Your request"  # the default subject
    finally:
        sink.stop()
    # STARTTLS is the default; a server that does not offer it is a configuration problem
    plain = SmtpSink().start()
    try:
        adapter = build_adapter(
            "mail", "email", {"address": ADDRESS, "smtp_host": "127.0.0.1", "smtp_port": plain.port}
        )
        from relaydesk.channels.base import ChannelMisconfigured

        with pytest.raises(ChannelMisconfigured, match="STARTTLS"):
            await adapter.send(outbound, httpx.AsyncClient())
    finally:
        plain.stop()


async def test_reply_to_a_customer_met_on_another_channel(
    hub: Hub, client: httpx.AsyncClient, sink: SmtpSink
) -> None:
    await apply_email_channel(hub, sink, inbound=False)
    await apply_text(hub, "channels:\n  - name: web\n    kind: api\n")
    accepted = await client.post(
        "/api/v1/messages",
        json={
            "channel": "web",
            "external_id": "w1",
            "text": "Please email me the invoice",
            "sender": {"email": "kim@example.com"},
        },
    )
    journey = accepted.json()["journey_id"]
    await reply(client, journey, text="Here it is.", channel="mail")
    await Worker(hub).drain()
    mail = sink.messages[0].message
    assert mail["To"] == "kim@example.com" and mail["Subject"] == "Your request"
    assert mail["In-Reply-To"] is None and mail["References"] is None


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ("address: not-an-address\n      smtp_host: 127.0.0.1", "address"),
        (
            "address: a@shop.example\n      smtp_host: mail.example.net\n      smtp_username: u\n"
            "      smtp_password: hunter2",
            "smtp_password: a secret",
        ),
        (
            "address: a@shop.example\n      smtp_host: mail.example.net\n      smtp_username: u\n"
            "      smtp_password: env:P\n      smtp_starttls: false",
            "in clear",
        ),
        (
            "address: a@shop.example\n      smtp_host: 127.0.0.1\n"
            "      imap_host: imap.example.net",
            "imap_username",
        ),
        (
            "address: a@shop.example\n      smtp_host: 127.0.0.1\n"
            "      imap_host: imap.example.net\n"
            "      imap_username: u\n      imap_password: env:P\n      imap_tls: false",
            "in clear",
        ),
        ("address: a@shop.example", "smtp_host"),
    ],
)
def test_settings_are_checked(settings: str, problem: str) -> None:
    text = f"channels:\n  - name: mail\n    kind: email\n    settings:\n      {settings}\n"
    with pytest.raises(WorkspaceFileError, match=problem):
        parse_workspace(text, "w.yaml")


def test_loopback_servers_may_go_without_tls() -> None:
    adapter = build_adapter(
        "mail",
        "email",
        {
            "address": "Support@Shop.Example",
            "smtp_host": "127.0.0.1",
            "smtp_username": "u",
            "smtp_password": "env:P",
            "smtp_starttls": False,
            "imap_host": "localhost",
            "imap_username": "u",
            "imap_password": "env:P",
            "imap_tls": False,
            "inbound_smtp_port": free_port(),
        },
    )
    assert isinstance(adapter, EmailChannel)
    assert adapter.settings.address == "support@shop.example"
    facts = adapter.describe()
    assert facts["outbound"] == "smtp://127.0.0.1:587"
    assert facts["inbound"][1].startswith("imap://localhost:143/INBOX")
