"""Visitor tokens: a signed, channel-bound visitor id the widget keeps in localStorage.

The token proves that the hub gave out this visitor id for this channel; holding it is what
lets a browser resume the visitor's conversation. Signed with itsdangerous and the hub's
signing key; time comes from relaydesk.clock so expiry is testable.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from relaydesk import clock

SALT = "relaydesk.webchat.visitor"
MAX_AGE = timedelta(days=180)
"""A visitor who stays away longer starts a new conversation (each visit renews the token)."""
VISITOR_ID = re.compile(r"^v_[A-Za-z0-9_-]{20,40}$")


class _ClockSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


def _serializer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=SALT, signer=_ClockSigner)


def new_visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(18)


def issue(key: str, channel: str, visitor: str) -> str:
    return _serializer(key).dumps({"c": channel, "v": visitor})


def read(key: str, channel: str, token: str, *, max_age: timedelta = MAX_AGE) -> str | None:
    """The visitor id, or None if the token is forged, expired or for another channel."""
    try:
        data = _serializer(key).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        return None
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("c") != channel:
        return None
    visitor = data.get("v")
    return visitor if isinstance(visitor, str) and VISITOR_ID.match(visitor) else None
