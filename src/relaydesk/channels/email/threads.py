"""Email threading (RFC 5322 §3.6.4): Message-ID, In-Reply-To and References.

Ids are kept with their angle brackets, exactly as written (``<1234@local.machine.example>``),
so what we store for our own replies matches what customers' mail programs quote back.
"""

from __future__ import annotations

import hashlib
import re

MAX_ID_LENGTH = 300
"""Messages store external ids in 300 characters; longer ids are replaced by a digest."""
MAX_REFERENCES = 20
"""References kept on a reply: the thread root and the most recent ones (as MUAs trim)."""

_BRACKETED = re.compile(r"<([^<>\s]+)>")
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|vs|antw|r)\s*(\[\d+\])?\s*:", re.IGNORECASE)


def normalize_id(value: str) -> str:
    """``<id>``; a longer id than a message can store becomes a stable digest of itself."""
    inner = value.strip().strip("<>").strip()
    bracketed = f"<{inner}>"
    if len(bracketed) <= MAX_ID_LENGTH:
        return bracketed
    digest = hashlib.sha256(inner.encode("utf-8", "replace")).hexdigest()
    return f"<{digest}@long-id.relaydesk.invalid>"


def parse_ids(header: str | None) -> tuple[str, ...]:
    """Every message id in a header, in order, without repeats.

    Tolerates the unbracketed ids some old programs write (``In-Reply-To: 1234@host``).
    """
    if not header:
        return ()
    found = _BRACKETED.findall(header)
    if not found:
        found = [word for word in header.split() if "@" in word and "<" not in word]
    seen: dict[str, None] = {}
    for item in found:
        seen.setdefault(normalize_id(item))
    return tuple(seen)


def first_id(header: str | None) -> str | None:
    ids = parse_ids(header)
    return ids[0] if ids else None


def thread_refs(
    in_reply_to: tuple[str, ...], references: tuple[str, ...], own: str | None
) -> tuple[str, ...]:
    """Earlier messages this one answers, nearest first: In-Reply-To, then References reversed."""
    ordered: dict[str, None] = {}
    for ref in (*in_reply_to, *reversed(references)):
        if ref != own:
            ordered.setdefault(ref)
    return tuple(ordered)


def thread_root(in_reply_to: tuple[str, ...], references: tuple[str, ...], own: str) -> str:
    """The first message of the thread: the oldest reference, else the parent, else itself."""
    if references:
        return references[0]
    if in_reply_to:
        return in_reply_to[0]
    return own


def reply_references(references: tuple[str, ...], parent: str | None) -> list[str]:
    """References for a reply: the parent's References followed by the parent's Message-ID."""
    chain = [ref for ref in references if ref != parent]
    if parent:
        chain.append(parent)
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return chain


def reply_subject(subject: str) -> str:
    """``Re: <subject>`` unless it already starts with a reply prefix (Re:, AW:, SV:, ...)."""
    subject = " ".join(subject.split())
    if not subject:
        return ""
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


def our_message_id(message_id: str, domain: str) -> str:
    """The Message-ID of one of our replies: stable, so a resend after a crash is the same mail."""
    return normalize_id(f"relaydesk.{message_id}@{domain}")
