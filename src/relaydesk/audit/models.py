"""``audit_log``: one row per administrative change (console admin pages, and more later)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from relaydesk.db import Base, new_id


class AuditEntry(Base):
    """Who (``actor``, e.g. ``agent:<id>``, plus a display name), what (``action`` on
    ``target_kind``/``target``), when, and a summary of the fields before and after. Secrets
    and passwords are never stored (see audit/actions.py: ``redact``)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_created", "created_at"),
        Index("ix_audit_log_target", "target_kind", "target"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    created_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    actor_name: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    """e.g. agent.updated, team.created, channel.updated, routing.updated, kb_article.updated"""
    target_kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(320))
    before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(default=dict)
