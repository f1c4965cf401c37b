"""Outreach reactions: surveys after resolution, and the timers that send.

Every timer handler runs in the timer's own transaction (``in_transaction=True``), so what
it writes — the outbound message, its ``MessageQueued`` outbox row, the next timer, the
recorded skip — commits exactly once with the timer's mark, even across crashes.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.bus import StoredEvent, on
from relaydesk.hub import Hub
from relaydesk.journeys.events import JourneyResolved
from relaydesk.outreach.actions import notifications, surveys, updates
from relaydesk.timers import DueTimer, on_timer


@on(JourneyResolved)
async def survey_after_resolution(hub: Hub, event: StoredEvent) -> None:
    async def write(session: AsyncSession) -> None:
        if event.journey_id is not None:
            await updates.stop_updates(session, event.journey_id)
        await surveys.plan_survey(session, event)

    await hub.db.transaction(write)
    hub.wake_worker()


@on_timer(notifications.TIMER_KIND, in_transaction=True)
async def send_notification(hub: Hub, timer: DueTimer, session: AsyncSession) -> None:
    await notifications.fire_notification(session, uuid.UUID(timer.payload["notification_id"]))


@on_timer(updates.TIMER_KIND, in_transaction=True)
async def send_update(hub: Hub, timer: DueTimer, session: AsyncSession) -> None:
    await updates.fire_update(session, uuid.UUID(timer.payload["journey_id"]))


@on_timer(surveys.ASK_KIND, in_transaction=True)
async def ask_survey(hub: Hub, timer: DueTimer, session: AsyncSession) -> None:
    await surveys.fire_ask(session, uuid.UUID(timer.payload["survey_id"]))


@on_timer(surveys.EXPIRE_KIND, in_transaction=True)
async def expire_survey(hub: Hub, timer: DueTimer, session: AsyncSession) -> None:
    await surveys.fire_expire(session, uuid.UUID(timer.payload["survey_id"]))
