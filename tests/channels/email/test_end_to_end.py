"""A whole email conversation through real servers: the customer writes (by SMTP to the hub,
or into the mailbox the hub polls), an agent replies (by SMTP to the provider), the customer
answers the reply, a later reply bounces."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import httpx
import pytest
from tests.channels.email.dovecot import MailboxAccount
from tests.channels.email.peers import (
    ADDRESS,
    Delivered,
    SmtpSink,
    apply_email_channel,
    count,
    dsn,
    eventually,
    receiving,
    send,
)
from tests.conftest import scalar

from relaydesk.hub import Hub
from relaydesk.worker import Worker


def answer_to(reply: Delivered, text: str) -> bytes:
    """What a mail program sends when Kim presses Reply: threading headers and the quote."""
    ours = reply.message
    message = EmailMessage()
    message["From"] = formataddr(("Kim Doe", "kim@example.com"))
    message["To"] = str(ours["From"])
    message["Subject"] = f"Re: {ours['Subject']}".replace("Re: Re: ", "Re: ")
    message["Message-ID"] = make_msgid(domain="example.com")
    message["In-Reply-To"] = ours["Message-ID"]
    message["References"] = f"{ours['References']} {ours['Message-ID']}".strip()
    quoted = "\n".join(f"> {line}" for line in ours.get_content().splitlines())
    message.set_content(
        f"{text}\n\nOn Tue, 6 Jan 2026 at 09:00, Shop Support <{ADDRESS}> wrote:\n{quoted}\n"
    )
    return message.as_bytes()


def first_mail() -> bytes:
    message = EmailMessage()
    message["From"] = formataddr(("Kim Doe", "kim@example.com"))
    message["To"] = ADDRESS
    message["Subject"] = "Parcel 1042 has not arrived"
    message["Message-ID"] = "<first.1042@example.com>"
    message.set_content("Hello, my parcel 1042 has not arrived. Can you check?")
    return message.as_bytes()


@pytest.mark.parametrize("inbound", ["smtp", "imap"])
async def test_email_conversation(
    hub: Hub,
    client: httpx.AsyncClient,
    sink: SmtpSink,
    request: pytest.FixtureRequest,
    inbound: str,
) -> None:
    mailbox: MailboxAccount | None = None
    if inbound == "imap":
        mailbox = request.getfixturevalue("mailbox")
    port = await apply_email_channel(hub, sink, inbound=inbound == "smtp", mailbox=mailbox)

    async def customer_sends(raw: bytes, mail_from: str = "kim@example.com") -> None:
        if mailbox is None:
            await send(port, raw, mail_from=mail_from, to=ADDRESS)
        else:
            envelope = (
                "Return-Path: <>\r\n" if mail_from == "" else f"Return-Path: <{mail_from}>\r\n"
            )
            mailbox.append(envelope.encode() + raw)

    async with receiving(hub, smtp_port=port if mailbox is None else None):
        await customer_sends(first_mail())
        await eventually(lambda: count(hub))
        journey = str(await scalar(hub, "select journey_id from messages"))

        # the agent answers; the worker sends it through the provider's SMTP server
        first = (
            await client.post(
                f"/api/v1/journeys/{journey}/messages",
                json={"text": "Hi Kim, it is at the depot and arrives tomorrow."},
            )
        ).json()
        await Worker(hub).drain()
        [sent] = sink.messages
        mail = sent.message
        assert sent.rcpt_tos == ["kim@example.com"] and sent.mail_from == ADDRESS
        assert mail["Subject"] == "Re: Parcel 1042 has not arrived"
        assert mail["In-Reply-To"] == "<first.1042@example.com>"
        assert mail["References"] == "<first.1042@example.com>"
        assert mail["Message-ID"] == f"<relaydesk.{first['id']}@shop.example>"
        assert mail["Auto-Submitted"] is None

        # Kim answers our reply: it threads into the same conversation
        await customer_sends(answer_to(sent, "Great, thank you!"))
        await eventually(lambda: _count_is(hub, 3))

        # a second reply bounces: the DSN fails it and opens nothing
        second = (
            await client.post(
                f"/api/v1/journeys/{journey}/messages", json={"text": "Anything else?"}
            )
        ).json()
        await Worker(hub).drain()
        await customer_sends(dsn(sink.messages[1].message["Message-ID"]), mail_from="")
        failed = await eventually(lambda: _failed(client, second["id"]))
    assert failed["delivery_error_code"] == "5.1.1"

    rows = await _timeline(client, journey)
    assert [(r["direction"], r["text"]) for r in rows] == [
        ("inbound", "Hello, my parcel 1042 has not arrived. Can you check?"),
        ("outbound", "Hi Kim, it is at the depot and arrives tomorrow."),
        ("inbound", "Great, thank you!"),  # the quoted history is trimmed for display
        ("outbound", "Anything else?"),
    ]
    assert len({r["conversation_id"] for r in rows}) == 1
    assert await count(hub, "journeys") == 1 and await count(hub, "customers") == 1
    full = await scalar(hub, "select meta from messages where text = :t", t="Great, thank you!")
    assert "Hi Kim, it is at the depot" in str(full)  # ... and kept in meta.full_text
    # the next reply quotes the whole chain
    reply_to = await scalar(hub, "select reply_to from conversations")
    assert f"<relaydesk.{first['id']}@shop.example>" in str(reply_to)


async def _count_is(hub: Hub, n: int) -> bool:
    return await count(hub) == n


async def _failed(client: httpx.AsyncClient, message_id: str) -> dict[str, str] | None:
    message = (await client.get(f"/api/v1/messages/{message_id}")).json()
    return message if message["delivery_status"] == "failed" else None


async def _timeline(client: httpx.AsyncClient, journey: str) -> list[dict[str, str]]:
    customer = (await client.get(f"/api/v1/journeys/{journey}")).json()["customer_id"]
    items = (await client.get(f"/api/v1/customers/{customer}/timeline")).json()["items"]
    return list(items)
