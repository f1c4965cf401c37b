"""Bounces and automatic replies: the fixtures (RFC 3464 DSNs, a non-DSN Exim bounce, an
auto-submitted report) and RFC 3834's signals. None of them is a customer writing."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from tests.channels.email.peers import ADDRESS, dsn, fixture

from relaydesk.channels.email.inbound import Inbound, translate

OURS = "<relaydesk.0190d9a2-0000-7000-8000-000000000001@shop.example>"


def read(raw: bytes, envelope_from: str | None = None) -> Inbound:
    return translate(
        raw, channel="mail", own_address=ADDRESS, envelope_from=envelope_from, via="test"
    )


@pytest.mark.parametrize(
    ("name", "original", "code"),
    [
        ("dsn_cpython_msg_43.eml", "<edab.7804f5cb8070@python.org>", "5.7.1"),
        ("dsn_flufl_dsn_01_disk_quota.eml", "<F1218V8zDv60gxapzha000001ae@hotmail.com>", "5.0.0"),
        (
            "dsn_flufl_dsn_11_user_unknown_auto_submitted.eml",
            "<mailman.0.1035637201.19036.mailman-developers@python.org>",
            "5.1.1",
        ),
    ],
)
def test_dsn_fixtures_fail_the_original_message(name: str, original: str, code: str) -> None:
    result = read(fixture(name))
    assert result.parsed.messages == []
    assert result.ignored is not None and result.ignored.startswith("bounce")
    [update] = result.parsed.deliveries
    assert (update.external_id, update.status, update.error_code) == (original, "failed", code)
    assert update.error is not None and update.error.startswith(f"bounced ({code})")
    assert "@" not in update.error  # addresses in diagnostics are redacted


def test_dsn_reasons_are_readable() -> None:
    [quota] = read(fixture("dsn_flufl_dsn_01_disk_quota.eml")).parsed.deliveries
    assert quota.error == "bounced (5.0.0): recipient reached disk quota"
    [unknown] = read(fixture("dsn_flufl_dsn_11_user_unknown_auto_submitted.eml")).parsed.deliveries
    assert unknown.error == "bounced (5.1.1): the mailbox does not exist"


@pytest.mark.parametrize(
    "name", ["dsn_flufl_dsn_18_opensmtpd.eml", "bounce_flufl_simple_16_exim_nonDSN.eml"]
)
def test_bounces_without_the_original_headers_store_nothing(name: str) -> None:
    """OpenSMTPD sent a placeholder for the headers; Exim's copy said "Message removed"."""
    result = read(fixture(name))
    assert result.automatic is not None and result.automatic.kind == "bounce"
    assert result.parsed.messages == [] and result.parsed.deliveries == []


def test_non_dsn_bounce_quoting_our_message_fails_it() -> None:
    raw = fixture("bounce_flufl_simple_16_exim_nonDSN.eml").replace(
        b"Message removed",
        f"Message-ID: {OURS}\nFrom: support@shop.example\nSubject: Re: Order".encode(),
    )
    [update] = read(raw).parsed.deliveries
    assert update.external_id == OURS and update.error_code == "bounce"
    assert update.error == "bounced: Mail delivery failed: returning message to sender"


def test_postfix_style_dsn_for_our_reply() -> None:
    result = read(dsn(OURS), envelope_from="<>")
    [update] = result.parsed.deliveries
    assert update.external_id == OURS
    assert update.error == (
        "bounced (5.1.1): smtp; 550 5.1.1 <address>: Recipient address rejected"
    )


def test_delay_notices_are_not_failures() -> None:
    result = read(dsn(OURS, action="delayed", status="4.4.7"), envelope_from="<>")
    assert result.automatic is not None and result.automatic.kind == "delay"
    assert result.parsed.deliveries == [] and result.parsed.messages == []


def person(**headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Kim <kim@example.com>")
    message["To"] = ADDRESS
    message["Subject"] = "Out of office"
    message["Message-ID"] = "<ooo@example.com>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("I am away until Monday.")
    return message.as_bytes()


@pytest.mark.parametrize(
    ("headers", "envelope_from", "reason"),
    [
        ({"Auto_Submitted": "auto-replied"}, None, "Auto-Submitted: auto-replied"),
        ({"Auto_Submitted": "auto-generated (vacation)"}, None, "Auto-Submitted: auto-generated"),
        ({"Auto_Submitted": "auto-notified"}, None, "Auto-Submitted: auto-notified"),
        ({"Precedence": "bulk"}, None, "Precedence: bulk"),
        ({"Precedence": "junk"}, None, "Precedence: junk"),
        ({"Precedence": "list"}, None, "Precedence: list"),
        ({"List_Id": "Offers <offers.shop.example>"}, None, "mailing list (List-Id)"),
        ({}, "<>", "null return path"),
        ({}, "", "null return path"),
        ({"Return_Path": "<>"}, None, "null return path"),
        ({"From": "MAILER-DAEMON@mx.example.net"}, None, "sent by a mail system address"),
        ({"From": "owner-announce@lists.example.net"}, None, "sent by a mail system address"),
        ({"X_Autoreply": "yes"}, None, "X-Autoreply"),
        ({"From": "Shop <support@shop.example>"}, None, "sent from this channel's own address"),
    ],
)
def test_automatic_replies_are_not_customer_messages(
    headers: dict[str, str], envelope_from: str | None, reason: str
) -> None:
    result = read(person(**headers), envelope_from=envelope_from)
    assert result.parsed.messages == [] and result.parsed.deliveries == []
    assert result.ignored is not None and result.ignored.endswith(reason)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Auto_Submitted": "no"}, {"Precedence": "first-class"}, {"Return_Path": "<kim@x.org>"}],
)
def test_people_are_customers(headers: dict[str, str]) -> None:
    result = read(person(**headers), envelope_from="kim@example.com")
    assert len(result.parsed.messages) == 1 and result.ignored is None


def test_a_forwarded_bounce_is_a_person_writing() -> None:
    forward = EmailMessage()
    forward["From"] = "Kim <kim@example.com>"
    forward["To"] = ADDRESS
    forward["Subject"] = "Fwd: your mail bounced"
    forward["Message-ID"] = "<fwd@example.com>"
    forward.set_content("Your reply bounced, see below. My new address is kim@new.example.org")
    forward.add_attachment(dsn(OURS), maintype="message", subtype="rfc822")
    result = read(forward.as_bytes(), envelope_from="kim@example.com")
    assert result.ignored is None and len(result.parsed.messages) == 1
    assert result.parsed.deliveries == []
