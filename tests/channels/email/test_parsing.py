"""Reading email without servers: threading, quoted history, HTML, encodings, the fixtures."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from tests.channels.email.peers import ADDRESS, fixture

from relaydesk.channels.base import InboundMessage
from relaydesk.channels.email import parsing
from relaydesk.channels.email.inbound import Inbound, translate
from relaydesk.channels.email.threads import (
    MAX_ID_LENGTH,
    normalize_id,
    parse_ids,
    reply_references,
    reply_subject,
)


def read(raw: bytes, envelope_from: str | None = None) -> Inbound:
    return translate(
        raw, channel="mail", own_address=ADDRESS, envelope_from=envelope_from, via="test"
    )


def one(raw: bytes) -> InboundMessage:
    result = read(raw)
    assert result.ignored is None, result.ignored
    [message] = result.parsed.messages
    return message


def mail(body: str = "Hello", *, subtype: str = "plain", **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Kim Doe <kim@example.com>")
    message["To"] = ADDRESS
    message["Subject"] = headers.pop("Subject", "Order 1042")
    message["Message-ID"] = headers.pop("Message_ID", "<m1@example.com>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body, subtype=subtype)
    return message.as_bytes()


def test_rfc5322_thread_chain() -> None:
    first = one(fixture("rfc5322_A2_thread_1_original.eml"))
    second = one(fixture("rfc5322_A2_thread_2_reply.eml"))
    third = one(fixture("rfc5322_A2_thread_3_reply_to_reply.eml"))
    root = "<1234@local.machine.example>"
    assert (first.external_id, first.thread_key, first.thread_refs) == (root, root, ())
    assert second.thread_key == root and second.thread_refs == (root,)
    # In-Reply-To first, then References newest to oldest
    assert third.thread_key == root
    assert third.thread_refs == ("<3456@example.net>", root)
    assert first.sender.identities[0][0].value == "jdoe@machine.example"
    assert first.sender.identities[0][1] == "provider"
    assert first.sender.name == "John Doe"
    assert first.sent_at is not None and first.sent_at.utcoffset() is not None
    # replies quote the whole chain and go to Reply-To when there is one
    assert second.reply_to == {
        "to": "smith@home.example",
        "subject": "Re: Saying Hello",
        "in_reply_to": "<3456@example.net>",
        "references": [root, "<3456@example.net>"],
    }
    assert third.reply_to["references"] == [
        root,
        "<3456@example.net>",
        "<abcd.1234@local.machine.test>",
    ]
    assert first.reply_to["subject"] == "Re: Saying Hello"


def test_ids_are_normalised() -> None:
    assert parse_ids("<a@b> <c@d>  <a@b>") == ("<a@b>", "<c@d>")
    assert parse_ids("a@b") == ("<a@b>",)  # old programs forget the brackets
    assert parse_ids("(comment) <a@b> (more)") == ("<a@b>",)
    assert parse_ids(None) == ()
    long = "<" + "x" * 400 + "@example.com>"
    assert len(normalize_id(long)) <= MAX_ID_LENGTH
    assert normalize_id(long) == normalize_id(long) != normalize_id(long.replace("x", "y", 1))
    refs = tuple(f"<{n}@x>" for n in range(30))
    kept = reply_references(refs, "<parent@x>")
    assert len(kept) == 20 and kept[0] == "<0@x>" and kept[-1] == "<parent@x>"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Saying Hello", "Re: Saying Hello"),
        ("Re: Saying Hello", "Re: Saying Hello"),
        ("RE:  Saying   Hello", "RE: Saying Hello"),
        ("AW: Bestellung", "AW: Bestellung"),
        ("SV: Beställning", "SV: Beställning"),
        ("Re[2]: x", "Re[2]: x"),
        ("Refund please", "Re: Refund please"),
        ("", ""),
    ],
)
def test_reply_subject(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


QUOTED = [
    (
        "Thanks, that helps!\n\nOn Mon, 5 Jan 2024 at 10:00, Shop Support <support@shop.example> "
        "wrote:\n> Your parcel left today.\n> Regards",
        "Thanks, that helps!",
    ),
    (
        "Thanks!\n\nOn Mon, 5 Jan 2024 at 10:00, Shop Support\n<support@shop.example> wrote:\n\n"
        "> Your parcel left today.",
        "Thanks!",
    ),
    (
        "Yes please.\n\n________________________________\nFrom: Shop Support "
        "<support@shop.example>\nSent: Monday, January 5, 2024 10:00\nTo: Kim\nSubject: Re: x\n\n"
        "Your parcel left today.",
        "Yes please.",
    ),
    (
        "Yes please.\n\nFrom: Shop Support <support@shop.example>\nSent: Monday\nTo: Kim\n\nOld",
        "Yes please.",
    ),
    ("Ok.\n\n-----Original Message-----\nFrom: x\n\nold text", "Ok."),
    (
        "Danke!\n\nAm 05.01.2024 um 10:00 schrieb Shop Support <support@shop.example>:\n> Hallo",
        "Danke!",
    ),
    ("Le lundi 5 janvier, Shop a écrit :\n> old", "Le lundi 5 janvier, Shop a écrit :\n> old"),
    ("Sounds good\n\n> Will you take it back?\n> Yes.\n\n", "Sounds good"),
    (  # an attribution without a date, right above the quote
        "Got it, thanks!\n\nShop Support <support@shop.example> wrote:\n\n> Your label.",
        "Got it, thanks!",
    ),
    (  # "wrote:" that is not the quote's attribution stays
        "You wrote: it ships Monday.\nIt did not.\n\n> Your parcel left today.",
        "You wrote: it ships Monday.\nIt did not.",
    ),
]


@pytest.mark.parametrize(("text", "expected"), QUOTED)
def test_quoted_history_is_trimmed(text: str, expected: str) -> None:
    assert parsing.trim_quoted(text) == expected


def test_inline_answers_are_kept_whole() -> None:
    text = "> Which size?\nMedium.\n> Which colour?\nBlue.\n\nKim"
    assert parsing.trim_quoted(text) == text


def test_trimmed_text_shown_full_text_kept() -> None:
    body = "Thanks!\n\nOn Mon, 5 Jan 2024, Shop Support <support@shop.example> wrote:\n> old"
    message = one(mail(body))
    assert message.text == "Thanks!"
    assert message.meta["full_text"] == body
    assert message.meta["quoted_history_trimmed"] is True
    assert message.meta["subject"] == "Order 1042"
    assert "full_text" not in one(mail("Just this")).meta


def test_html_only_mail_becomes_readable_text() -> None:
    html = (
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>Hi,</p><p>my order <b>1042</b> never <a href='https://x.example/t'>arrived</a>.</p>"
        "<ul><li>blue shirt</li><li>size M</li></ul>"
        "<div class='gmail_quote'><div>On Mon, 5 Jan 2024, Shop &lt;support@shop.example&gt;"
        " wrote:<br></div><blockquote>Your order shipped</blockquote></div></body></html>"
    )
    message = one(mail(html, subtype="html"))
    assert message.meta["format"] == "html"
    assert "<" not in message.text and "color" not in message.text
    assert "my order 1042 never arrived." in message.text
    assert "* blue shirt" in message.text
    assert "Your order shipped" not in message.text
    assert "Your order shipped" in message.meta["full_text"]


def test_alternative_prefers_plain_and_lists_attachments() -> None:
    message = EmailMessage()
    message["From"] = "kim@example.com"
    message["To"] = ADDRESS
    message["Subject"] = "=?utf-8?q?Best=C3=A4llning_1042?="
    message["Message-ID"] = "<alt@example.com>"
    message.set_content("Plain body")
    message.add_alternative("<p>HTML body</p>", subtype="html")
    message.add_attachment(
        b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="r.pdf"
    )
    inbound = one(message.as_bytes())
    assert inbound.text == "Plain body"
    assert inbound.meta["subject"] == "Beställning 1042"
    assert inbound.meta["attachments"] == [
        {"filename": "r.pdf", "content_type": "application/pdf", "size": 16}
    ]


def test_legacy_charsets_and_odd_input() -> None:
    raw = (
        b"From: =?iso-8859-1?q?J=F6rg?= <jorg@example.com>\r\nTo: support@shop.example\r\n"
        b"Subject: Gr\xfc\xdfe\r\nMessage-ID: <latin@example.com>\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nM\xf6chte zur\xfcckgeben.\r\n"
    )
    inbound = one(raw)
    assert inbound.text == "Möchte zurückgeben."
    assert inbound.sender.name == "Jörg"
    no_id = mail("Hi", Message_ID="")
    assert one(no_id).external_id == one(no_id).external_id  # stable: a retry is a no-op
    assert one(no_id).external_id.startswith("<sha256.")
    empty = one(mail("", Subject="Call me back"))
    assert empty.text == "Call me back"
    unknown_charset = raw.replace(b"iso-8859-1\r\n\r\n", b"x-unknown\r\n\r\n")
    assert one(unknown_charset).text.startswith("M")


def test_unreadable_sender_is_not_stored() -> None:
    result = read(mail("hi", From="not an address"))
    assert result.parsed.messages == [] and result.ignored == "no readable From address"


def test_dates() -> None:
    from datetime import UTC, datetime

    when = datetime(2024, 1, 5, 10, 0, tzinfo=UTC)
    assert one(mail("x", Date=format_datetime(when))).sent_at == when
    assert one(mail("x", Date="yesterday-ish")).sent_at is None
