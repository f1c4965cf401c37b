"""API tokens: 256-bit random secrets, stored only as SHA-256 digests.

A fast digest is the right tool for high-entropy machine secrets (nothing to brute-force);
argon2 is used for the human-chosen passwords of agents.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "rdk_"  # noqa: S105 (a prefix, not a secret)


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
