"""Normalising identities so the same person is recognised on every channel."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from email_validator import EmailNotValidError, validate_email


class Assurance(StrEnum):
    """How we know an identity belongs to the sender; all of these link automatically."""

    INTEGRATION = "integration"
    """Asserted by a trusted integration (an API channel's caller)."""
    PROVIDER = "provider"
    """Asserted by the channel provider (the number an SMS came from)."""
    VERIFIED = "verified"
    """Proven by the customer (a one-time code)."""
    AGENT = "agent"
    """Entered by an agent or operator."""


GLOBAL_KINDS = ("email", "phone")
CHANNEL_SCOPED_KINDS = ("handle", "messenger", "instagram", "whatsapp")
"""Ids that mean something only on their channel (a page-scoped id, a chat id, a BSUID)."""


@dataclass(frozen=True)
class IdentityKey:
    kind: str
    scope: str
    value: str


class InvalidIdentity(ValueError):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


@functools.lru_cache(maxsize=8192)
def normalize_email(raw: str) -> str:
    """Case-folded address; the domain IDNA-normalised by email-validator.

    Cached: validation costs more than the rest of a message's identity work, and the same
    senders write again and again (a bad address raises every time; errors are not cached).
    """
    try:
        info = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidIdentity("email", str(exc)) from None
    return info.normalized.casefold()


@functools.lru_cache(maxsize=4096)
def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """E.164 (``+46701234567``); national numbers need the workspace's default country.

    Cached (a few thousand recent numbers, in memory only): parsing costs ~80 µs, and the
    same senders and the channel's own number come back on every webhook."""
    text = raw.strip()
    if text.lower().startswith("whatsapp:"):
        text = text.split(":", 1)[1]
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if text.startswith("+") or default_region else " (use the +country format)"
        raise InvalidIdentity("phone", f"not a phone number{hint}: {exc}") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentity("phone", "not a possible phone number")
    if number.extension:
        # Dropping it would make a switchboard's extensions one person (and link them to
        # whoever owns the main number); no channel can text or call an extension either.
        raise InvalidIdentity(
            "phone", "has an extension; give the person's direct number without it"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_handle(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise InvalidIdentity("handle", "must not be empty")
    if len(value) > 300:
        raise InvalidIdentity("handle", "longer than 300 characters")
    return value


def identity_key(
    kind: str, raw: str, *, scope: str = "", default_region: str | None = None
) -> IdentityKey:
    """Normalise ``raw`` for ``kind``; global kinds ignore ``scope``."""
    if kind == "email":
        return IdentityKey("email", "", normalize_email(raw))
    if kind == "phone":
        return IdentityKey("phone", "", normalize_phone(raw, default_region))
    return IdentityKey(kind, scope, normalize_handle(raw))
