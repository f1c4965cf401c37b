"""The journey an outreach message belongs to, for a customer who may have none open."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bus import publish
from relaydesk.db import new_id
from relaydesk.journeys.events import JourneyOpened
from relaydesk.journeys.models import Journey
from relaydesk.journeys.states import ACTIVE_JOURNEY_STATUSES, JourneyStatus

NOTIFIED = "notified"
"""Outcome of a journey opened only to carry a notification (surveys skip it)."""


async def active_journey(session: AsyncSession, customer_id: uuid.UUID) -> Journey | None:
    return await session.scalar(
        select(Journey)
        .where(Journey.customer_id == customer_id, Journey.status.in_(ACTIVE_JOURNEY_STATUSES))
        .order_by(Journey.last_activity_at.desc(), Journey.id.desc())
        .limit(1)
    )


async def open_for_outreach(session: AsyncSession, customer_id: uuid.UUID, channel: str) -> Journey:
    """A new journey to carry an outbound message; the caller resolves it as ``notified``
    once the message is queued, so a reply within the journey window reopens it (the reply
    lands in this journey) and nothing sits in anyone's inbox meanwhile."""
    now = clock.now()
    journey = Journey(
        id=new_id(),
        customer_id=customer_id,
        status=JourneyStatus.OPEN.value,
        owner_type="unassigned",
        context={},
        created_at=now,
        updated_at=now,
        last_activity_at=now,
        reopen_count=0,
    )
    session.add(journey)
    await session.flush()
    # Logged like any other journey, so analytics count what was opened and resolved.
    await publish(
        session, JourneyOpened(customer_id=customer_id, journey_id=journey.id, channel=channel)
    )
    return journey
