"""Which journeys a signed-in person may see in the console.

Supervisors and admins see every journey. An agent sees the journeys they hold, the
journeys offered to them (an offer still waiting or taken), and the journeys waiting in
their teams' queue (or in the queue for no team in particular). The journey page, its
forms and the live socket all ask here, so the rule lives in one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.console.auth import ConsoleUser
from relaydesk.console.queries import for_my_teams
from relaydesk.journeys.models import Journey
from relaydesk.routing.models import Assignment

SEED_LIMIT = 500
"""At most this many journey ids a socket remembers at connect (the inbox shows 100)."""


def visible_to(agent_id: uuid.UUID) -> ColumnElement[bool]:
    """The journeys an agent (not a supervisor) may see, as a condition on ``Journey``."""
    offered = exists(
        select(Assignment.id).where(
            Assignment.journey_id == Journey.id,
            Assignment.agent_id == agent_id,
            Assignment.status.in_(("offered", "active")),
        )
    )
    return or_(
        and_(Journey.owner_type == "agent", Journey.owner_agent_id == agent_id),
        offered,
        and_(Journey.owner_type == "queue", for_my_teams(agent_id)),
    )


async def may_see(session: AsyncSession, user: ConsoleUser, journey_id: uuid.UUID) -> bool:
    if user.sees_everything:
        return True
    found = await session.scalar(
        select(Journey.id).where(Journey.id == journey_id, visible_to(user.agent_id))
    )
    return found is not None


async def visible_among(
    session: AsyncSession, user: ConsoleUser, journey_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    ids = set(journey_ids)
    if user.sees_everything or not ids:
        return ids
    rows = await session.scalars(
        select(Journey.id).where(Journey.id.in_(ids), visible_to(user.agent_id))
    )
    return set(rows.all())


async def visible_now(session: AsyncSession, user: ConsoleUser) -> set[uuid.UUID]:
    """The journeys an agent sees at this moment (for a socket to remember at connect)."""
    rows = await session.scalars(
        select(Journey.id)
        .where(Journey.status != "combined", visible_to(user.agent_id))
        .order_by(Journey.last_activity_at.desc())
        .limit(SEED_LIMIT)
    )
    return set(rows.all())
