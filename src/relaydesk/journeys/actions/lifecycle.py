"""Journey lifecycle: resolving (reopening happens on ingest, within the window)."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bus import publish
from relaydesk.journeys.events import JourneyResolved
from relaydesk.journeys.models import Conversation, Journey
from relaydesk.journeys.states import (
    ConversationStatus,
    JourneyTrigger,
    next_journey_status,
)


class JourneyNotFound(LookupError):
    pass


async def resolve_journey(
    session: AsyncSession, journey_id: uuid.UUID, *, outcome: str, actor: str
) -> Journey:
    """Mark the journey resolved and close its conversations."""
    journey = await session.scalar(
        select(Journey).where(Journey.id == journey_id).with_for_update()
    )
    if journey is None:
        raise JourneyNotFound(str(journey_id))
    now = clock.now()
    journey.status = next_journey_status(journey.status, JourneyTrigger.RESOLVE)
    journey.resolved_at = now
    journey.outcome = outcome
    journey.updated_at = now
    await session.execute(
        update(Conversation)
        .where(
            Conversation.journey_id == journey_id,
            Conversation.status == ConversationStatus.OPEN.value,
        )
        .values(status=ConversationStatus.CLOSED.value, closed_at=now)
    )
    await publish(
        session,
        JourneyResolved(customer_id=journey.customer_id, journey_id=journey.id, outcome=outcome),
        actor=actor,
    )
    return journey
