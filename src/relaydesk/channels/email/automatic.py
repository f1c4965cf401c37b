"""Telling machine-sent mail from people: bounces (RFC 3464 and common non-DSN ones) and
automatic replies (RFC 3834 and the usual non-standard signals).

Neither ever opens a journey or gets a reply. A bounce becomes a failed delivery of the
outbound message it returns, found by the original Message-ID in the attached headers.
"""

from __future__ import annotations

import email.parser
import re
from dataclasses import dataclass
from email import policy
from email.message import Message

from flufl.bounce import all_failures

from relaydesk.channels.base import DeliveryUpdate
from relaydesk.channels.email.parsing import addresses, header, raw_header
from relaydesk.channels.email.threads import normalize_id, parse_ids

SYSTEM_SENDERS = re.compile(r"^(mailer-daemon|postmaster|owner-.+|.+-request)$", re.IGNORECASE)
ATTACHED_HEADERS = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")
_MESSAGE_ID_LINE = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
STATUS_MEANING = {
    "1.1": "the mailbox does not exist",
    "1.2": "the recipient's domain does not exist",
    "1.3": "the address is malformed",
    "2.1": "the mailbox is disabled",
    "2.2": "the mailbox is full",
    "2.3": "the message is too large for the mailbox",
    "3.4": "the message is too large",
    "4.4": "the recipient's mail server cannot be reached",
    "7.1": "the recipient's server refused the message",
}
"""RFC 3463 subject.detail codes, for reports without a diagnostic text."""
_EMAIL = re.compile(r"<?[^\s<>()\"';,]+@[^\s<>()\"';,]+>?")


@dataclass(frozen=True)
class Automatic:
    """Why a message is not a person writing to us."""

    kind: str
    """bounce | delay | auto-reply | loop"""
    reason: str
    failures: tuple[DeliveryUpdate, ...] = ()


def redact(text: str) -> str:
    """Diagnostic texts quote addresses; they are stored in delivery errors without them."""
    return _EMAIL.sub("<address>", " ".join(text.split()))[:500]


def _token(value: str) -> str:
    """The keyword of a structured header value: ``auto-generated (failure)`` → auto-generated."""
    return re.split(r"[\s;(]", value.strip(), maxsplit=1)[0].lower()[:40] if value.strip() else ""


def null_return_path(message: Message, envelope_from: str | None) -> bool:
    if envelope_from is not None:
        return envelope_from.strip() in ("", "<>")
    return raw_header(message, "Return-Path").replace(" ", "") == "<>"


def _system_sender(message: Message) -> bool:
    for name in ("From", "Sender"):
        for _, address in addresses(message, name):
            if SYSTEM_SENDERS.match(address.rpartition("@")[0]):
                return True
    return False


def _report_blocks(message: Message) -> list[Message]:
    """Per-recipient blocks of a delivery-status part of this message itself (not of a
    message attached to it: a customer forwarding a bounce to us is a person writing)."""
    blocks: list[Message] = []
    parts = message.get_payload() if message.is_multipart() else []
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, Message) and part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                blocks.extend(item for item in payload if isinstance(item, Message))
    return blocks


def _attached_headers(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    text = payload if isinstance(payload, str) else ""
    if part.get("Content-Transfer-Encoding", "").lower() in ("base64", "quoted-printable"):
        decoded = part.get_payload(decode=True)
        text = decoded.decode("utf-8", "replace") if isinstance(decoded, bytes) else text
    if not text.strip():
        return None
    return email.parser.HeaderParser(policy=policy.default).parsestr(text.lstrip())


def original_message_ids(message: Message) -> tuple[str, ...]:
    """Message-IDs of the returned message: attached headers first, then a quoted copy."""
    found: dict[str, None] = {}
    for part in message.walk():
        if part.get_content_type() in ATTACHED_HEADERS:
            attached = _attached_headers(part)
            if attached is not None:
                for ref in parse_ids(raw_header(attached, "Message-ID")):
                    found.setdefault(ref)
    if not found:  # non-DSN bounces quote the message (or its headers) in the text
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
                for ref in _MESSAGE_ID_LINE.findall(text):
                    found.setdefault(normalize_id(ref))
    return tuple(found)


def _failure_detail(blocks: list[Message]) -> tuple[str, str]:
    """(status code, readable reason) of the first permanent failure in the report."""
    for block in blocks:
        status = header(block, "Status")
        action = header(block, "Action").lower()
        if action == "failed" or status.startswith("5"):
            code = status.split()[0] if status else "bounce"
            diagnostic = header(block, "Diagnostic-Code") or status.partition(" ")[2].strip("() ")
            meaning = STATUS_MEANING.get(code.partition(".")[2], "")
            detail = redact(diagnostic) if diagnostic else meaning
            reason = f"bounced ({code})" + (f": {detail}" if detail else "")
            return code[:32], reason
    return "bounce", "bounced"


def _classify_bounce(message: Message, envelope_from: str | None) -> Automatic | None:
    blocks = _report_blocks(message)
    report = header(message, "Content-Type").lower()
    is_report = bool(blocks) or (
        message.get_content_type() == "multipart/report" and "delivery-status" in report
    )
    bounce_like = (
        is_report
        or null_return_path(message, envelope_from)
        or _system_sender(message)
        or _token(header(message, "Auto-Submitted")) not in ("", "no")
    )
    if not bounce_like:
        return None  # flufl's heuristics only for mail that already looks machine-sent
    temporary, permanent = all_failures(message)
    dsn_failed = any(
        header(b, "Action").lower() == "failed" or header(b, "Status").startswith("5")
        for b in blocks
    )
    if not (permanent or dsn_failed):
        if temporary or is_report:
            return Automatic("delay", "delivery status notice without a permanent failure")
        return None
    code, reason = _failure_detail(blocks)
    if not blocks:
        subject = redact(header(message, "Subject"))
        reason = f"bounced: {subject}" if subject else "bounced"
    updates = tuple(
        DeliveryUpdate(external_id=ref, status="failed", error_code=code, error=reason)
        for ref in original_message_ids(message)
    )
    return Automatic("bounce", "report" if blocks else "non-DSN bounce", updates)


def _classify_auto_reply(message: Message, envelope_from: str | None) -> Automatic | None:
    auto = _token(header(message, "Auto-Submitted"))
    if auto and auto != "no":
        return Automatic("auto-reply", f"Auto-Submitted: {auto}")
    if null_return_path(message, envelope_from):
        return Automatic("auto-reply", "null return path")
    if _system_sender(message):
        return Automatic("auto-reply", "sent by a mail system address")
    precedence = _token(header(message, "Precedence"))
    if precedence in ("bulk", "junk", "list"):
        return Automatic("auto-reply", f"Precedence: {precedence}")
    if header(message, "List-Id"):
        return Automatic("auto-reply", "mailing list (List-Id)")
    for name in ("X-Autoreply", "X-Autorespond"):
        if header(message, name):
            return Automatic("auto-reply", name)
    return None


def classify(message: Message, *, envelope_from: str | None, own_address: str) -> Automatic | None:
    """Why this message is machine-sent, or None when a person wrote it."""
    bounce = _classify_bounce(message, envelope_from)
    if bounce is not None:
        return bounce
    automatic = _classify_auto_reply(message, envelope_from)
    if automatic is not None:
        return automatic
    if any(a.lower() == own_address for _, a in addresses(message, "From")):
        return Automatic("loop", "sent from this channel's own address")
    return None
