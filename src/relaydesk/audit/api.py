"""``GET /api/v1/audit``: the audit log, newest first."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from relaydesk.api.deps import HubDep, PrincipalDep
from relaydesk.audit.queries import audit_page
from relaydesk.audit.schemas import AuditList

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=AuditList, summary="Who changed what, and when")
async def list_audit(
    hub: HubDep,
    _: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: uuid.UUID | None = None,
    target_kind: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]+$")] = None,
) -> AuditList:
    async with hub.db.read() as session:
        return await audit_page(session, limit=limit, before=before, target_kind=target_kind)
