"""Shared steps for outreach tests: customers writing, the worker, what the provider got."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from tests.helpers.loopback import LoopbackProvider

from relaydesk.bus import Event
from relaydesk.hub import Hub
from relaydesk.worker import Worker


async def write_in(
    client: httpx.AsyncClient,
    text: str,
    *,
    external_id: str | None = None,
    email: str = "kim@example.com",
    channel: str = "app",
    handle: str = "kim-1",
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/messages",
        json={
            "channel": channel,
            "external_id": external_id or uuid.uuid4().hex,
            "text": text,
            "sender": {"email": email, "handle": handle},
        },
    )
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


async def drain(hub: Hub) -> None:
    await Worker(hub).drain()


def sent_texts(provider: LoopbackProvider, path: str = "/inbox") -> list[str]:
    return [r.json()["text"] for r in provider.requests if r.path == path]


async def event_names(hub: Hub, journey_id: str | uuid.UUID) -> list[str]:
    async with hub.db.read() as session:
        return list(
            (
                await session.scalars(
                    select(Event.name)
                    .where(Event.journey_id == uuid.UUID(str(journey_id)))
                    .order_by(Event.occurred_at, Event.id)
                )
            ).all()
        )


async def events_named(hub: Hub, name: str) -> list[dict[str, Any]]:
    async with hub.db.read() as session:
        return [
            dict(p)
            for p in (
                await session.scalars(
                    select(Event.payload).where(Event.name == name).order_by(Event.occurred_at)
                )
            ).all()
        ]
