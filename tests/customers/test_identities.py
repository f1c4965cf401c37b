"""Identity normalisation: the same person looks the same on every channel."""

from __future__ import annotations

import pytest

from relaydesk.customers.identities import (
    InvalidIdentity,
    identity_key,
    normalize_email,
    normalize_phone,
)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+46 70-123 45 67", None, "+46701234567"),
        ("070-123 45 67", "SE", "+46701234567"),
        ("whatsapp:+14155238886", None, "+14155238886"),
        ("0812-3456-7890", "ID", "+6281234567890"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+48 601 234 567", "SE", "+48601234567"),
    ],
)
def test_phones_become_e164(raw: str, region: str | None, e164: str) -> None:
    assert normalize_phone(raw, region) == e164


@pytest.mark.parametrize(
    "raw", ["12", "not a phone", "070-123 45 67", "+999 1", "+1 (415) 555-0123 ext. 12"]
)
def test_bad_phones_are_refused(raw: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        normalize_phone(raw, None)
    assert caught.value.kind == "phone"


def test_emails_are_case_folded() -> None:
    assert normalize_email("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"
    assert normalize_email("STRASSE@BÜCHER.de") == "strasse@bücher.de"
    with pytest.raises(InvalidIdentity):
        normalize_email("two@@example.com")


def test_handles_are_scoped_to_their_channel() -> None:
    a = identity_key("handle", "u-1", scope="web")
    b = identity_key("handle", "u-1", scope="app")
    assert a != b
    assert identity_key("email", "A@x.io", scope="web").scope == ""
