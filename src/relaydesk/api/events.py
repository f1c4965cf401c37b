"""Route: read the append-only event log (for analytics and integrations)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import and_, or_, select

from relaydesk.api.deps import HubDep, PrincipalDep
from relaydesk.api.errors import field_error
from relaydesk.bus import Event

router = APIRouter(tags=["events"])


class EventOut(BaseModel):
    id: uuid.UUID
    name: str
    occurred_at: datetime
    customer_id: uuid.UUID | None
    journey_id: uuid.UUID | None
    actor: str
    payload: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventOut]
    next_after: uuid.UUID | None


@router.get("/events", response_model=EventPage, summary="The event log, oldest first")
async def list_events(
    hub: HubDep,
    _: PrincipalDep,
    customer_id: uuid.UUID | None = None,
    journey_id: uuid.UUID | None = None,
    name: str | None = None,
    after: Annotated[uuid.UUID | None, Query(description="next_after of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> EventPage:
    query = select(Event).order_by(Event.occurred_at, Event.id).limit(limit)
    if customer_id is not None:
        query = query.where(Event.customer_id == customer_id)
    if journey_id is not None:
        query = query.where(Event.journey_id == journey_id)
    if name is not None:
        query = query.where(Event.name == name)
    async with hub.db.read() as session:
        if after is not None:
            anchor = await session.get(Event, after)
            if anchor is None:
                raise field_error(("query", "after"), "no such event")
            query = query.where(
                or_(
                    Event.occurred_at > anchor.occurred_at,
                    and_(Event.occurred_at == anchor.occurred_at, Event.id > anchor.id),
                )
            )
        rows = (await session.scalars(query)).all()
    items = [EventOut.model_validate(row, from_attributes=True) for row in rows]
    return EventPage(items=items, next_after=items[-1].id if len(items) == limit else None)
