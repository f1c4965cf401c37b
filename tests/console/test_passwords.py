"""argon2 password hashing for agents."""

from __future__ import annotations

import pytest

from relaydesk.agents.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    WeakPassword,
    hash_password,
    needs_rehash,
    verify_password,
)


def test_hash_is_argon2id_salted_and_verifies() -> None:
    first = hash_password("a long enough secret")
    second = hash_password("a long enough secret")
    assert first.startswith("$argon2id$")
    assert first != second  # salted
    assert verify_password(first, "a long enough secret")
    assert verify_password(second, "a long enough secret")
    assert not needs_rehash(first)


def test_wrong_password_missing_hash_and_garbage_hash_are_refused() -> None:
    stored = hash_password("a long enough secret")
    assert not verify_password(stored, "a long enough secreT")
    assert not verify_password(stored, "")
    assert not verify_password(None, "a long enough secret")
    assert not verify_password("not-a-hash", "a long enough secret")
    assert needs_rehash("not-a-hash")


def test_an_oversized_password_is_refused_without_hashing() -> None:
    stored = hash_password("a long enough secret")
    assert not verify_password(stored, "x" * (MAX_LENGTH + 1))


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short", f"at least {MIN_LENGTH}"),
        ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH}"),
        (" padded password ", "spaces"),
    ],
)
def test_weak_passwords_are_refused_naming_the_rule(password: str, rule: str) -> None:
    with pytest.raises(WeakPassword, match=rule):
        hash_password(password)
