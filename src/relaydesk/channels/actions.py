"""Writes for channel records: health markers."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.channels.models import Channel

HEALTH_RESOLUTION = timedelta(seconds=1)
"""Health timestamps move at most once a second, so busy channels don't contend on one row."""


async def touch_inbound(session: AsyncSession, channel_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(Channel)
        .where(
            Channel.id == channel_id,
            or_(
                Channel.last_inbound_at.is_(None), Channel.last_inbound_at < now - HEALTH_RESOLUTION
            ),
        )
        .values(last_inbound_at=now)
    )
