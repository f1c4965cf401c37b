"""Reads of the audit log, newest first, paged by id (ids are time-ordered UUIDv7)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.audit.models import AuditEntry
from relaydesk.audit.schemas import AuditEntryOut, AuditList


async def audit_page(
    session: AsyncSession,
    *,
    limit: int = 50,
    before: uuid.UUID | None = None,
    target_kind: str | None = None,
) -> AuditList:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    if target_kind:
        query = query.where(AuditEntry.target_kind == target_kind)
    rows = list((await session.scalars(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditList(
        items=[AuditEntryOut.model_validate(row, from_attributes=True) for row in rows],
        next_before=rows[-1].id if more and rows else None,
    )
