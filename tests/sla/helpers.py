"""A workspace with SLA policies on an office calendar, and steps shared by the SLA tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from relaydesk.bus import Event, OutboxEntry
from relaydesk.hub import Hub
from relaydesk.routing.models import QueueEntryRow
from relaydesk.timers import Timer
from relaydesk.worker import Worker

WEEK = '{mon: ["09:00-17:00"], tue: ["09:00-17:00"], wed: ["09:00-17:00"], ' + (
    'thu: ["09:00-17:00"], fri: ["09:00-17:00"]}'
)
WORKSPACE = f"""
settings:
  currency: EUR
channels:
  - name: api
    kind: api
  - name: mail
    kind: api
teams:
  - name: support
  - name: complaints
agents:
  - email: ana@example.com
    name: Ana
    languages: [en]
    teams: [support]
    capacity: {{messaging: 2}}
  - email: bo@example.com
    name: Bo
    languages: [en]
    teams: [complaints]
    capacity: {{messaging: 2}}
  - email: sue@example.com
    name: Sue
    role: supervisor
    teams: [support]
    capacity: {{messaging: 0}}
routing:
  threshold: 100
  offer_timeout: 1h
sla:
  default_calendar: office
  calendars:
    - name: office
      timezone: UTC
      hours: {WEEK}
      holidays: {{country: DE}}
  escalation:
    warn_at: 0.75
  policies:
    - name: complaints
      match: {{intents: [complaint]}}
      first_response: 30m
      resolution: 8h
      escalation:
        warn_at: 0.5
        on_breach: [reoffer, notify_supervisor]
        escalate_to: complaints
    - name: email
      match: {{channels: [mail]}}
      first_response: 8h
    - name: standard
      first_response: 1h
      next_response: 2h
      resolution: 16h
"""
HUMAN = "I want to talk to a human"
COMPLAINT = "This is the worst service ever, I want to complain about the rude staff"


async def post(
    client: httpx.AsyncClient, external_id: str, email: str, text: str, channel: str = "api"
) -> uuid.UUID:
    response = await client.post(
        "/api/v1/messages",
        json={
            "channel": channel,
            "external_id": external_id,
            "sender": {"email": email},
            "text": text,
        },
    )
    assert response.status_code in (200, 201), response.text
    return uuid.UUID(response.json()["journey_id"])


async def drain(hub: Hub) -> None:
    """Run the worker until idle; no SLA listener or timer may have failed."""
    await Worker(hub).drain()
    async with hub.db.read() as session:
        failures = (
            await session.execute(
                select(OutboxEntry.listener, OutboxEntry.last_error).where(
                    OutboxEntry.last_error.is_not(None)
                )
            )
        ).all()
        dead = (
            await session.execute(
                select(Timer.key, Timer.last_error).where(Timer.last_error.is_not(None))
            )
        ).all()
    assert failures == [] and dead == [], (failures, dead)


async def sla(client: httpx.AsyncClient, journey_id: uuid.UUID) -> dict[str, Any]:
    response = await client.get(f"/api/v1/journeys/{journey_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sla"] is not None, body
    result: dict[str, Any] = body["sla"]
    return result


def clock_of(view: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [c for c in view["clocks"] if c["kind"] == kind]
    assert found, view
    return found[0]


async def escalation_events(hub: Hub, journey_id: uuid.UUID) -> list[dict[str, Any]]:
    async with hub.db.read() as session:
        rows = (
            await session.scalars(
                select(Event.payload).where(
                    Event.journey_id == journey_id, Event.name == "sla.escalated"
                )
            )
        ).all()
    return [dict(r) for r in rows]


async def queue_due(hub: Hub, journey_id: uuid.UUID) -> Any:
    async with hub.db.read() as session:
        row = await session.get(QueueEntryRow, journey_id)
        return None if row is None else row.sla_due_at
