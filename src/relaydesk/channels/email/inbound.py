"""One received email (raw RFC 5322 bytes) → what the hub stores: a customer message, failed
deliveries (a bounce), or nothing (an automatic reply)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from relaydesk.channels.base import InboundMessage, ParsedWebhook, Sender
from relaydesk.channels.email import parsing
from relaydesk.channels.email.automatic import Automatic, classify
from relaydesk.channels.email.threads import (
    first_id,
    parse_ids,
    reply_references,
    reply_subject,
    thread_refs,
    thread_root,
)
from relaydesk.customers.identities import Assurance, InvalidIdentity, identity_key

MAX_TEXT = 32_768
"""Characters of an email kept as the message text (the API's default limit)."""
MAX_FULL_TEXT = 200_000
"""Characters of the untrimmed text kept in ``meta.full_text``."""


@dataclass
class Inbound:
    parsed: ParsedWebhook = field(default_factory=ParsedWebhook)
    ignored: str | None = None
    """Why nothing (or only delivery failures) is stored: a bounce, an auto-reply, a loop."""
    automatic: Automatic | None = None


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _reply_address(message: Any, sender: str, own: str) -> str:
    for _, address in parsing.addresses(message, "Reply-To"):
        try:
            candidate = identity_key("email", address).value
        except InvalidIdentity:
            continue
        if candidate != own:
            return candidate
    return sender


def translate(
    raw: bytes, *, channel: str, own_address: str, envelope_from: str | None, via: str
) -> Inbound:
    """Translate one email; ``envelope_from`` is SMTP's MAIL FROM (None when read by IMAP)."""
    message = parsing.read_message(raw)
    automatic = classify(message, envelope_from=envelope_from, own_address=own_address)
    if automatic is not None:
        return Inbound(
            ParsedWebhook(deliveries=list(automatic.failures)),
            ignored=f"{automatic.kind}: {automatic.reason}",
            automatic=automatic,
        )
    senders = parsing.addresses(message, "From")
    try:
        name, address = senders[0]
        sender = identity_key("email", address)
    except (IndexError, InvalidIdentity):
        return Inbound(ignored="no readable From address")
    message_id = first_id(parsing.raw_header(message, "Message-ID"))
    external_id = message_id or f"<sha256.{hashlib.sha256(raw).hexdigest()}@relaydesk.invalid>"
    in_reply_to = parse_ids(parsing.raw_header(message, "In-Reply-To"))
    references = parse_ids(parsing.raw_header(message, "References"))
    subject = parsing.header(message, "Subject")
    full, source = parsing.body(message)
    trimmed = parsing.trim_quoted(full)
    text = _capped(trimmed or subject or "(empty email)", MAX_TEXT)
    meta: dict[str, Any] = {"subject": subject, "message_id": external_id, "via": via}
    if source == "html":
        meta["format"] = "html"
    if trimmed != full or len(trimmed) > MAX_TEXT:
        meta["full_text"] = _capped(full, MAX_FULL_TEXT)
        meta["quoted_history_trimmed"] = trimmed != full
    if files := parsing.attachments(message):
        meta["attachments"] = files
    inbound = InboundMessage(
        channel=channel,
        external_id=external_id,
        sender=Sender(identities=((sender, Assurance.PROVIDER.value),), name=name or None),
        text=text,
        sent_at=parsing.sent_at(message),
        thread_key=thread_root(in_reply_to, references, external_id),
        meta=meta,
        reply_to={
            "to": _reply_address(message, sender.value, own_address),
            "subject": reply_subject(subject),
            "in_reply_to": message_id,
            "references": reply_references(references or in_reply_to, message_id),
        },
        thread_refs=thread_refs(in_reply_to, references, external_id),
    )
    return Inbound(ParsedWebhook(messages=[inbound]))
