"""Events of the web chat channel (payloads carry ids only: no address, never a code)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from relaydesk.bus import DomainEvent


class WebchatCodeRequested(DomainEvent):
    """A visitor asked to verify an email address; listeners.py sends the code."""

    name: ClassVar[str] = "webchat.code_requested"
    verification_id: uuid.UUID
    channel: str


class WebchatEmailVerified(DomainEvent):
    """A visitor proved an address: it is now a verified identity of ``customer_id``."""

    name: ClassVar[str] = "webchat.email_verified"
    verification_id: uuid.UUID
    channel: str
    merged: bool
    """The address belonged to another customer, now merged with the visitor's."""
