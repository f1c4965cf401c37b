"""Reading an RFC 5322 message: headers, the readable body, quoted history.

HTML-only mail is turned into text with inscriptis. Quoted history (``On ... wrote:`` and
what follows, Outlook's ``From:/Sent:`` block, a trailing ``>`` block) is cut from the text
shown in the timeline; the untrimmed text is kept in the message's ``meta.full_text``.
"""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from inscriptis import get_text  # type: ignore[import-untyped]
from inscriptis.model.config import ParserConfig  # type: ignore[import-untyped]

_ATTRIBUTION = re.compile(
    r"^\s*(On|Am|Le|El|Den|Op|Il|Em|W dniu)\s.{4,300}?"
    r"(wrote|schrieb|a écrit|escribió|skrev|schreef|ha scritto|escreveu|napisał|napisała|pisze)"
    r"\b.{0,120}:\s*$",
    re.IGNORECASE,
)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original"
    r"|Ursprungligt meddelande|Oorspronkelijk bericht|Messaggio originale|Mensagem original"
    r"|Wiadomość oryginalna)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*_{20,}\s*$")
_FROM = re.compile(r"^\s*\*?(From|Von|De|Från|Van|Da|Od)\*?:\s*\S", re.IGNORECASE)
_SENT = re.compile(
    r"^\s*\*?(Sent|Gesendet|Envoyé|Enviado|Skickat|Verzonden|Inviato|Wysłano|Date|Datum)\*?:\s",
    re.IGNORECASE,
)
_BLANK_RUNS = re.compile(r"\n{3,}")
_WROTE = re.compile(
    r"^.{1,300}?\b(wrote|schrieb|a écrit|escribió|skrev|schreef|ha scritto|escreveu|napisał"
    r"|napisała|pisze)\b.{0,120}:\s*$",
    re.IGNORECASE,
)
"""An attribution without a date ("Shop Support <support@shop.example> wrote:"), trimmed
only when the quote follows it."""


def read_message(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _raw_header(message: Message, name: str) -> str | None:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def header(message: Message, name: str) -> str:
    """A header's decoded text, unfolded; "" if absent; never raises on malformed input."""
    try:
        value = message.get(name)
        text = "" if value is None else str(value)
    except Exception:  # a malformed header: decode it by hand
        raw = _raw_header(message, name) or ""
        try:
            text = str(make_header(decode_header(raw)))
        except Exception:
            text = raw
    return " ".join(text.split())


def raw_header(message: Message, name: str) -> str:
    """A header as written, unfolded (for ids and tokens, which are never encoded)."""
    return " ".join((_raw_header(message, name) or "").split())


def addresses(message: Message, name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header; empty when it cannot be read."""
    value = header(message, name)
    if not value:
        return []
    try:
        pairs = getaddresses([value])
    except Exception:
        return []
    return [(n.strip(), a.strip()) for n, a in pairs if a and "@" in a]


def sent_at(message: Message) -> datetime | None:
    try:
        when = parsedate_to_datetime(raw_header(message, "Date"))
    except (TypeError, ValueError, IndexError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def html_to_text(html: str) -> str:
    text = get_text(html, ParserConfig(display_links=False, display_images=False))
    lines = [line.rstrip() for line in str(text).splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _content(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def body(message: EmailMessage) -> tuple[str, str]:
    """The readable body and where it came from: "plain", "html" or "none"."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        return "", "none"
    content = _content(part)
    if part.get_content_type() == "text/html":
        return html_to_text(content), "html"
    lines = [line.rstrip() for line in content.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip(), "plain"


def attachments(message: EmailMessage) -> list[dict[str, Any]]:
    """Name, type and size of each attachment (the files themselves are not kept)."""
    found: list[dict[str, Any]] = []
    try:
        parts = list(message.iter_attachments())
    except Exception:
        return found
    for part in parts:
        payload = part.get_payload(decode=True)
        found.append(
            {
                "filename": part.get_filename() or "",
                "content_type": part.get_content_type(),
                "size": len(payload) if isinstance(payload, bytes) else 0,
            }
        )
    return found


def _quote_start(lines: list[str]) -> int | None:
    """The line where quoted history begins, or None."""
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _ATTRIBUTION.match(line) or (
            line.strip() and _ATTRIBUTION.match(f"{line.rstrip()} {following.strip()}")
        ):
            return index
        if _ORIGINAL.match(line):
            return index
        window = [item for item in lines[index + 1 : index + 6] if item.strip()]
        if _RULE.match(line) and window and _FROM.match(window[0]):
            return index
        if _FROM.match(line) and any(_SENT.match(item) for item in window[:4]):
            return index
    tail = len(lines)
    while tail > 0 and (not lines[tail - 1].strip() or lines[tail - 1].lstrip().startswith(">")):
        tail -= 1
    if any(line.lstrip().startswith(">") for line in lines[tail:]):
        above = tail
        while above > 0 and not lines[above - 1].strip():
            above -= 1
        if above > 0 and _WROTE.match(lines[above - 1]):
            return above - 1
        return tail
    return None


def trim_quoted(text: str) -> str:
    """The text without the quoted history below it; the whole text if it is all quote."""
    lines = text.split("\n")
    start = _quote_start(lines)
    if start is None:
        return text
    trimmed = "\n".join(lines[:start]).rstrip()
    return trimmed if trimmed.strip() else text
