"""Agents' passwords: argon2id hashes (argon2-cffi), checked in constant time.

Human-chosen passwords need a slow, memory-hard hash; API tokens (tokens.py) do not.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 1024
"""Longer input is refused before hashing, so nobody can make the server hash megabytes."""

_hasher = PasswordHasher()


class WeakPassword(ValueError):
    pass


def check_password_rules(password: str) -> None:
    """Raise ``WeakPassword`` naming the rule the password breaks."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password is at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password is at most {MAX_LENGTH} characters")
    if password != password.strip():
        raise WeakPassword("a password cannot start or end with spaces")


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("relaydesk-timing-equaliser")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; an agent without a hash costs the same time as one with."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
