"""Reading canned replies (the composer's picker, the admin list)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.canned.models import CannedReply


async def all_canned(session: AsyncSession) -> list[CannedReply]:
    return list((await session.scalars(select(CannedReply).order_by(CannedReply.title))).all())


async def canned_by_ref(session: AsyncSession, ref: str) -> CannedReply | None:
    """By id, else by name."""
    try:
        found = await session.get(CannedReply, uuid.UUID(ref))
    except ValueError:
        found = None
    if found is not None:
        return found
    return await session.scalar(select(CannedReply).where(CannedReply.name == ref))
