"""Mail in through the built-in SMTP server: real clients (smtplib, swaks) → the channel's
receiver (run by the hub's Receivers) → stored, threaded, or recognised as machine-sent."""

from __future__ import annotations

import json
import logging
import shutil
import smtplib
import socket
from typing import Any

import httpx
import pytest
from tests.channels.email.peers import (
    ADDRESS,
    SmtpSink,
    apply_email_channel,
    count,
    customer_mail,
    eventually,
    fixture,
    receiving,
    send,
    swaks_send,
)
from tests.conftest import required, scalar

from relaydesk.hub import Hub


def as_dict(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def test_customer_email_is_stored_once(
    hub: Hub, client: httpx.AsyncClient, sink: SmtpSink
) -> None:
    port = await apply_email_channel(hub, sink)
    async with receiving(hub, smtp_port=port):
        await send(port, customer_mail(), to=ADDRESS)
        await send(port, customer_mail(), to=ADDRESS)  # the MTA retried: same Message-ID
    assert await count(hub) == 1
    customer_id = await scalar(hub, "select customer_id from messages")
    customer = (await client.get(f"/api/v1/customers/{customer_id}")).json()
    assert customer["name"] == "Kim Doe"
    [identity] = customer["identities"]
    assert (identity["kind"], identity["value"], identity["assurance"]) == (
        "email",
        "kim@example.com",
        "provider",
    )
    timeline = (await client.get(f"/api/v1/customers/{customer_id}/timeline")).json()["items"]
    assert [(i["channel"], i["channel_kind"], i["text"]) for i in timeline] == [
        ("mail", "email", "Where is my order 1042?")
    ]
    reply_to = as_dict(await scalar(hub, "select reply_to from conversations"))
    assert reply_to == {
        "to": "kim@example.com",
        "subject": "Re: Order 1042",
        "in_reply_to": "<q1@example.com>",
        "references": ["<q1@example.com>"],
    }
    meta = as_dict(await scalar(hub, "select meta from messages"))
    assert meta["via"] == "smtp" and meta["subject"] == "Order 1042"
    channel = next(
        c for c in (await client.get("/api/v1/channels")).json()["items"] if c["name"] == "mail"
    )
    assert channel["health"]["last_inbound_at"] is not None


async def test_swaks_as_the_client(hub: Hub, sink: SmtpSink) -> None:
    if shutil.which("swaks") is None:
        if required("swaks"):
            pytest.fail("swaks is required (RELAYDESK_TEST_REQUIRE) but is not installed")
        pytest.skip("swaks is not installed (apt-get install -y swaks)")
    port = await apply_email_channel(hub, sink)
    async with receiving(hub, smtp_port=port):
        code, transcript = await swaks_send(
            port,
            customer_mail(message_id="<swaks@example.com>"),
            mail_from="kim@example.com",
            to=ADDRESS,
        )
    assert code == 0, transcript
    assert "250 2.0.0 OK" in transcript
    assert await scalar(hub, "select external_id from messages") == "<swaks@example.com>"


async def test_rfc5322_thread_joins_one_conversation(hub: Hub, sink: SmtpSink) -> None:
    """John writes (A.2 #1), Mary answers him (#2, copied to us), John answers Mary (#3)."""
    port = await apply_email_channel(hub, sink)
    async with receiving(hub, smtp_port=port):
        for name in ("1_original", "2_reply", "3_reply_to_reply"):
            await send(port, fixture(f"rfc5322_A2_thread_{name}.eml"), to=ADDRESS)
    rows = {}
    for external_id in (
        "<1234@local.machine.example>",
        "<3456@example.net>",
        "<abcd.1234@local.machine.test>",
    ):
        rows[external_id] = (
            await scalar(
                hub, "select conversation_id from messages where external_id = :e", e=external_id
            ),
            await scalar(
                hub, "select customer_id from messages where external_id = :e", e=external_id
            ),
        )
    john_first, mary, john_again = rows.values()
    assert john_first == john_again  # same conversation, same customer
    assert mary[1] != john_first[1]  # Mary is another customer, in her own conversation
    keys = {
        str(await scalar(hub, "select thread_key from conversations where id = :c", c=conv))
        for conv, _ in rows.values()
    }
    assert keys == {"<1234@local.machine.example>"}  # one thread root for the whole chain
    assert await count(hub, "conversations") == 2


@pytest.mark.parametrize(
    "name",
    [
        "dsn_cpython_msg_43.eml",
        "dsn_flufl_dsn_01_disk_quota.eml",
        "dsn_flufl_dsn_11_user_unknown_auto_submitted.eml",
        "dsn_flufl_dsn_18_opensmtpd.eml",
        "bounce_flufl_simple_16_exim_nonDSN.eml",
    ],
)
async def test_bounces_never_open_journeys(hub: Hub, sink: SmtpSink, name: str) -> None:
    port = await apply_email_channel(hub, sink)
    async with receiving(hub, smtp_port=port):
        await send(port, fixture(name), mail_from="", to=ADDRESS)  # MAIL FROM:<>
    assert await count(hub) == 0
    assert await count(hub, "journeys") == 0
    assert await count(hub, "customers") == 0


async def test_auto_replies_never_open_journeys(hub: Hub, sink: SmtpSink) -> None:
    port = await apply_email_channel(hub, sink)
    out_of_office = customer_mail(
        "I am away until Monday.", message_id="<ooo@example.com>", Auto_Submitted="auto-replied"
    )
    newsletter = customer_mail("Spring sale!", message_id="<news@example.com>", Precedence="bulk")
    async with receiving(hub, smtp_port=port):
        await send(port, out_of_office, to=ADDRESS)
        await send(port, newsletter, to=ADDRESS)
        await send(
            port, customer_mail(message_id="<vacation@example.com>"), mail_from="", to=ADDRESS
        )
    assert await count(hub) == 0 and await count(hub, "journeys") == 0


async def test_other_domains_are_refused(hub: Hub, sink: SmtpSink) -> None:
    port = await apply_email_channel(hub, sink)
    async with receiving(hub, smtp_port=port):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            await send(port, customer_mail(), to="someone@elsewhere.example")
    assert refused.value.recipients["someone@elsewhere.example"][0] == 550
    assert await count(hub) == 0


async def test_storage_failure_asks_the_sender_to_retry(
    hub: Hub, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """250 only after commit: if storing fails the MTA gets 451 and keeps the mail."""
    import relaydesk.channels.receivers as receivers_module

    port = await apply_email_channel(hub, sink)
    real = receivers_module.process_webhook  # type: ignore[attr-defined]

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database is down")

    async with receiving(hub, smtp_port=port):
        monkeypatch.setattr(receivers_module, "process_webhook", broken)
        with pytest.raises(smtplib.SMTPDataError) as failed:
            await send(port, customer_mail(), to=ADDRESS)
        assert failed.value.smtp_code == 451
        monkeypatch.setattr(receivers_module, "process_webhook", real)
        await send(port, customer_mail(), to=ADDRESS)
    assert await count(hub) == 1


async def test_nothing_personal_is_logged(
    hub: Hub, sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # (aiosqlite's DEBUG lines carry SQL parameters)
    port = await apply_email_channel(hub, sink)
    async with receiving(hub, smtp_port=port):
        await send(
            port, customer_mail("my card is 4111 1111"), mail_from="kim@example.com", to=ADDRESS
        )
        await send(
            port, customer_mail(message_id="<ooo@x>", Auto_Submitted="auto-replied"), to=ADDRESS
        )
    assert await count(hub) == 1
    assert "kim@example.com" not in caplog.text
    assert "4111" not in caplog.text and "Kim Doe" not in caplog.text
    assert "auto-reply: Auto-Submitted: auto-replied" in caplog.text  # why, without who


async def test_receiver_failure_shows_in_channel_health(
    hub: Hub, client: httpx.AsyncClient, sink: SmtpSink
) -> None:
    port = await apply_email_channel(hub, sink)
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        taken.bind(("127.0.0.1", port))
        taken.listen()

        async def health_error() -> str | None:
            items = (await client.get("/api/v1/channels")).json()["items"]
            return next(c for c in items if c["name"] == "mail")["health"]["last_error"]

        async with receiving(hub):
            error = await eventually(health_error)
    assert error.startswith("receiver: OSError")
