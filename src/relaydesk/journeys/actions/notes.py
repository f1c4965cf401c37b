"""Internal notes on a journey: stored apart from messages (never delivered), audited."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.audit.actions import record
from relaydesk.bus import publish
from relaydesk.db import new_id
from relaydesk.journeys.actions.lifecycle import JourneyNotFound
from relaydesk.journeys.events import JourneyNoteAdded
from relaydesk.journeys.models import Journey, JourneyNote

MAX_NOTE = 8_000


class InvalidNote(ValueError):
    pass


async def add_note(
    session: AsyncSession,
    journey_id: uuid.UUID,
    text: str,
    *,
    agent_id: uuid.UUID,
    agent_name: str,
) -> JourneyNote:
    """Store the note, its audit entry and ``JourneyNoteAdded`` in the caller's transaction."""
    body = text.strip()
    if not body:
        raise InvalidNote("Write a note first.")
    if len(body) > MAX_NOTE:
        raise InvalidNote(f"A note is at most {MAX_NOTE} characters.")
    customer_id = await session.scalar(select(Journey.customer_id).where(Journey.id == journey_id))
    if customer_id is None:
        raise JourneyNotFound(str(journey_id))
    now = clock.now()
    note = JourneyNote(
        id=new_id(),
        journey_id=journey_id,
        customer_id=customer_id,
        author_agent_id=agent_id,
        text=body,
        created_at=now,
    )
    session.add(note)
    await session.flush()
    actor = f"agent:{agent_id}"
    await record(
        session,
        actor=actor,
        actor_name=agent_name,
        action="journey.note_added",
        target_kind="journey",
        target=str(journey_id),
        after={"note_id": str(note.id), "length": len(body)},
    )
    await publish(
        session,
        JourneyNoteAdded(customer_id=customer_id, journey_id=journey_id, note_id=note.id),
        actor=actor,
    )
    return note
