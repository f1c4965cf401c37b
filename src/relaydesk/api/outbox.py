"""Routes: the outbox's dead letters (work the worker gave up on), and retrying them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select, update

from relaydesk import clock
from relaydesk.api.deps import HubDep, PrincipalDep
from relaydesk.api.errors import ApiError
from relaydesk.bus import Event, OutboxEntry

router = APIRouter(tags=["operations"])


class OutboxItem(BaseModel):
    id: uuid.UUID
    listener: str
    status: str
    attempts: int
    last_error: str | None
    available_at: datetime
    event_name: str
    event_id: uuid.UUID
    journey_id: uuid.UUID | None
    payload: dict[str, Any]


class OutboxPage(BaseModel):
    items: list[OutboxItem]


@router.get("/outbox", response_model=OutboxPage, summary="Outbox work by status (dead letters)")
async def list_outbox(
    hub: HubDep,
    _: PrincipalDep,
    status: Literal["dead", "pending", "done"] = "dead",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> OutboxPage:
    async with hub.db.read() as session:
        rows = (
            await session.execute(
                select(OutboxEntry, Event)
                .join(Event, Event.id == OutboxEntry.event_id)
                .where(OutboxEntry.status == status)
                .order_by(OutboxEntry.created_at)
                .limit(limit)
            )
        ).all()
    return OutboxPage(
        items=[
            OutboxItem(
                id=entry.id,
                listener=entry.listener,
                status=entry.status,
                attempts=entry.attempts,
                last_error=entry.last_error,
                available_at=entry.available_at,
                event_name=event.name,
                event_id=event.id,
                journey_id=event.journey_id,
                payload=event.payload,
            )
            for entry, event in rows
        ]
    )


@router.post(
    "/outbox/{entry_id}/retry", response_model=dict[str, str], summary="Retry a dead letter"
)
async def retry_outbox(entry_id: uuid.UUID, hub: HubDep, _: PrincipalDep) -> dict[str, str]:
    async def work(session: Any) -> int:
        result = await session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == entry_id, OutboxEntry.status == "dead")
            .values(status="pending", attempts=0, available_at=clock.now(), locked_until=None)
        )
        return int(result.rowcount or 0)

    if not await hub.db.transaction(work):
        raise ApiError(404, "not_dead_letter", f"no dead outbox entry {entry_id}")
    hub.wake_worker()
    return {"status": "pending"}
