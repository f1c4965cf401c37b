"""Handing a journey to the bot, the routing queue or an agent: the one place owners change."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bus import publish
from relaydesk.journeys.actions.lifecycle import JourneyNotFound
from relaydesk.journeys.events import OwnerChanged
from relaydesk.journeys.models import Journey
from relaydesk.journeys.states import JourneyOwner, check_owner_change


async def change_owner(
    session: AsyncSession,
    journey_id: uuid.UUID,
    to: JourneyOwner,
    *,
    reason: str,
    actor: str,
    agent_id: uuid.UUID | None = None,
) -> Journey:
    """Give the journey to ``to`` (``agent_id`` required for an agent) and publish
    ``OwnerChanged``; raises ``InvalidTransition`` for a change the table does not allow.

    The journey row is locked first, so two workers handing the same journey over at once
    serialise: the second sees the first's owner and is checked against it.
    """
    if (to is JourneyOwner.AGENT) != (agent_id is not None):
        raise ValueError("an agent owner needs agent_id, and only an agent owner has one")
    journey = await session.scalar(
        select(Journey).where(Journey.id == journey_id).with_for_update()
    )
    if journey is None:
        raise JourneyNotFound(str(journey_id))
    previous_owner, previous_agent = journey.owner_type, journey.owner_agent_id
    check_owner_change(previous_owner, to)
    journey.owner_type = to.value
    journey.owner_agent_id = agent_id
    journey.updated_at = clock.now()
    await publish(
        session,
        OwnerChanged(
            customer_id=journey.customer_id,
            journey_id=journey.id,
            from_owner=previous_owner,
            to_owner=to.value,
            agent_id=agent_id,
            previous_agent_id=previous_agent,
            reason=reason,
        ),
        actor=actor,
    )
    return journey
