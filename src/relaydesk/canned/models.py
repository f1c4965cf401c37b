"""``canned_replies``: one stored answer with a text per language."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from relaydesk.db import Base, new_id


class CannedReply(Base):
    """Identified by ``name`` (a slug, as in the workspace file's ``canned_replies:``)."""

    __tablename__ = "canned_replies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    texts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """By language (``en``, ``sv``, …); each text may use {variables} (canned/render.py)."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
