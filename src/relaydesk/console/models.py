"""Console sign-in state: sessions and recent failed sign-ins (for the lock-out)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from relaydesk.db import Base, new_id


class ConsoleSession(Base):
    """A signed-in browser. Only the SHA-256 of its 256-bit random id is stored."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_agent", "agent_id", "revoked_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    """Absolute end of the session; idleness ends it earlier (see console/auth.py)."""
    revoked_at: Mapped[datetime | None]


class SignInFailure(Base):
    """One failed sign-in, keyed by a keyed hash of the email or of the client address
    (so neither is stored in clear); old rows are pruned as new ones arrive."""

    __tablename__ = "console_sign_in_failures"
    __table_args__ = (Index("ix_console_sign_in_failures_key_at", "key", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class ReadMarker(Base):
    """When an agent last opened a journey: customer messages received later are unread."""

    __tablename__ = "console_read_markers"

    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    journey_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("journeys.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime]
