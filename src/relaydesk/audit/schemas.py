"""API shapes for the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEntryOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    actor: str = Field(description="agent:<id>, token:<name>, cli, …")
    actor_name: str | None
    action: str
    target_kind: str
    target: str
    before: dict[str, Any] = Field(description="The changed fields' old values (no secrets)")
    after: dict[str, Any] = Field(description="The changed fields' new values (no secrets)")


class AuditList(BaseModel):
    items: list[AuditEntryOut]
    next_before: uuid.UUID | None = Field(
        description="Pass as ?before= for the next (older) page; null on the last page"
    )
