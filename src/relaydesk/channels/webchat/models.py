"""Email verification for widget visitors: one row per address a visitor asked to verify.

The one-time code is never stored: only an HMAC of it (keyed with the hub's signing key), an
expiry and the number of wrong attempts.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from relaydesk.db import Base, new_id


class WebchatVerification(Base):
    __tablename__ = "webchat_verifications"
    __table_args__ = (
        Index("ix_webchat_verifications_visitor", "channel", "visitor", "created_at"),
        Index("ix_webchat_verifications_email", "email", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(100))
    visitor: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    """The visitor's customer when they typed the address (follow merges to the current one)."""
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))
    """claimed (no verification channel) | pending (code being sent) | sent | verified |
    failed (could not send) | locked (too many wrong codes) | superseded (a newer request)."""
    code_hash: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
