"""Workspace-wide settings (currency, timezone, journey window, ...), one row per key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from relaydesk.db import Base


class WorkspaceSetting(Base):
    __tablename__ = "workspace_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]]
    """Wrapped as ``{"value": ...}`` so any JSON value can be stored."""
    updated_at: Mapped[datetime]
