"""Polling a real IMAP server (Dovecot, started by the tests on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest
from sqlalchemy import select
from tests.channels.email.dovecot import Dovecot, MailboxAccount
from tests.channels.email.peers import (
    SmtpSink,
    apply_email_channel,
    count,
    customer_mail,
    dsn,
    eventually,
    fixture,
    receiving,
    submitter,
)
from tests.conftest import scalar

from relaydesk.channels.email import EmailChannel, imap_poll
from relaydesk.channels.models import Channel
from relaydesk.channels.registry import build_adapter
from relaydesk.hub import Hub
from relaydesk.worker import Worker


async def adapter_of(hub: Hub) -> EmailChannel:
    async with hub.db.read() as session:
        channel = await session.scalar(select(Channel).where(Channel.name == "mail"))
    assert channel is not None
    adapter = build_adapter(channel.name, channel.kind, channel.settings)
    assert isinstance(adapter, EmailChannel)
    return adapter


async def poll(hub: Hub) -> int:
    """One poll of the mailbox, as the receiver's loop does it."""
    adapter = await adapter_of(hub)
    password = os.environ["TEST_IMAP_PASSWORD"]
    mailbox = imap_poll.Mailbox(adapter.settings, password)
    return await imap_poll.poll_once(
        mailbox, adapter._translator("imap"), await submitter(hub, "mail")
    )


async def test_polled_mail_is_stored_and_marked_read(
    hub: Hub, client: httpx.AsyncClient, sink: SmtpSink, mailbox: MailboxAccount
) -> None:
    await apply_email_channel(hub, sink, inbound=False, mailbox=mailbox)
    mailbox.append(customer_mail("Where is my parcel?", message_id="<imap-1@example.com>"))
    async with receiving(hub):
        await eventually(lambda: count(hub))
        assert await eventually(lambda: asyncio.to_thread(lambda: "\\Seen" in mailbox.flags()[0]))
        await asyncio.sleep(1.5)  # at least one more poll: nothing is stored twice
    assert await count(hub) == 1
    assert await scalar(hub, "select text from messages") == "Where is my parcel?"
    meta = await scalar(hub, "select meta from messages")
    assert "imap" in str(meta)
    customer = await scalar(hub, "select customer_id from messages")
    identities = (await client.get(f"/api/v1/customers/{customer}")).json()["identities"]
    assert [(i["kind"], i["value"]) for i in identities] == [("email", "kim@example.com")]


async def test_mail_fetched_again_is_not_stored_twice(
    hub: Hub, sink: SmtpSink, mailbox: MailboxAccount
) -> None:
    """A crash between storing and marking means the next poll fetches the mail again."""
    await apply_email_channel(hub, sink, inbound=False, mailbox=mailbox)
    mailbox.append(customer_mail(message_id="<again@example.com>"))
    assert await poll(hub) == 1
    assert await poll(hub) == 0  # marked: not fetched again
    conn = mailbox.server.imap(mailbox.user, mailbox.password)
    conn.select("INBOX")
    conn.uid("STORE", "1:*", "-FLAGS", "(\\Seen)")  # as if the mark had been lost
    conn.logout()
    assert await poll(hub) == 1
    assert await count(hub) == 1
    assert "\\Seen" in mailbox.flags()[0]


async def test_processed_mail_can_be_moved(
    hub: Hub, sink: SmtpSink, mailbox: MailboxAccount
) -> None:
    conn = mailbox.server.imap(mailbox.user, mailbox.password)
    assert conn.create('"Support Done"')[0] == "OK"
    conn.logout()
    await apply_email_channel(
        hub, sink, inbound=False, mailbox=mailbox, extra='\n      imap_move_to: "Support Done"'
    )
    for n in range(3):
        mailbox.append(customer_mail(f"question {n}", message_id=f"<move-{n}@example.com>"))
    assert await poll(hub) == 3
    assert mailbox.count("INBOX") == 0
    assert mailbox.count('"Support Done"') == 3
    assert await count(hub) == 3


async def test_bounces_and_auto_replies_by_imap(
    hub: Hub, client: httpx.AsyncClient, sink: SmtpSink, mailbox: MailboxAccount
) -> None:
    await apply_email_channel(hub, sink, inbound=False, mailbox=mailbox)
    mailbox.append(customer_mail(message_id="<first@example.com>"))
    assert await poll(hub) == 1
    journey = await scalar(hub, "select journey_id from messages")
    reply = (
        await client.post(f"/api/v1/journeys/{journey}/messages", json={"text": "On its way"})
    ).json()
    await Worker(hub).drain()
    ours = sink.messages[0].message["Message-ID"]
    bounce = b"Return-Path: <>\r\n" + dsn(ours)
    out_of_office = customer_mail(
        "Away", message_id="<ooo@example.com>", Auto_Submitted="auto-replied"
    )
    mailbox.append(bounce)
    mailbox.append(out_of_office)
    assert await poll(hub) == 2
    assert all("\\Seen" in flags for flags in mailbox.flags())
    failed = (await client.get(f"/api/v1/messages/{reply['id']}")).json()
    assert failed["delivery_status"] == "failed"
    assert failed["delivery_error_code"] == "5.1.1"
    assert await count(hub) == 2  # the customer's message and our reply; nothing else
    assert await count(hub, "journeys") == 1


async def test_refused_login_shows_in_channel_health(
    hub: Hub,
    client: httpx.AsyncClient,
    sink: SmtpSink,
    private_dovecot: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, _ = private_dovecot.account()
    mailbox = MailboxAccount(private_dovecot, user, "not-the-password")
    await apply_email_channel(hub, sink, inbound=False, mailbox=mailbox)
    monkeypatch.setenv("TEST_IMAP_PASSWORD", "not-the-password")

    async def health_error() -> str | None:
        items = (await client.get("/api/v1/channels")).json()["items"]
        return next(c for c in items if c["name"] == "mail")["health"]["last_error"]

    async with receiving(hub):
        error = await eventually(health_error)
    assert error == "receiver: ChannelMisconfigured: the IMAP server refused the login"
    assert "not-the-password" not in error


async def test_mail_read_before_the_hub_polls_is_left_alone(
    hub: Hub, sink: SmtpSink, mailbox: MailboxAccount
) -> None:
    await apply_email_channel(hub, sink, inbound=False, mailbox=mailbox)
    mailbox.append(fixture("rfc5322_A2_thread_1_original.eml"))
    conn = mailbox.server.imap(mailbox.user, mailbox.password)
    conn.select("INBOX")
    conn.uid("STORE", "1:*", "+FLAGS", "(\\Seen)")
    conn.logout()
    assert await poll(hub) == 0
    assert await count(hub) == 0
