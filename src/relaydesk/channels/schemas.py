"""API shapes for channels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ChannelHealth(BaseModel):
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None


class ChannelOut(BaseModel):
    name: str
    kind: str
    display_name: str | None
    enabled: bool
    settings: dict[str, Any]
    """Secrets appear only as their ``env:NAME`` references."""
    health: ChannelHealth


class ChannelList(BaseModel):
    items: list[ChannelOut]
