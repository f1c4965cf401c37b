"""The per-customer survey cooldown holds when two resolutions are planned at once (two
workers): the planners take turns on the customer, so only one survey is scheduled."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.helpers.loopback import LoopbackProvider
from tests.outreach.test_surveys import resolved_journey

from relaydesk import clock
from relaydesk.bus import Event, StoredEvent
from relaydesk.hub import Hub
from relaydesk.outreach.actions.surveys import plan_survey
from relaydesk.outreach.models import Survey


async def test_two_resolutions_planned_at_once_schedule_one_survey(
    monkeypatch: pytest.MonkeyPatch,
    outreach_hub: Hub,
    client: httpx.AsyncClient,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    accepted = await resolved_journey(client, outreach_hub, provider)
    journey_id = uuid.UUID(accepted["journey_id"])
    async with outreach_hub.db.read() as session:
        resolved = await session.scalar(
            select(Event).where(Event.journey_id == journey_id, Event.name == "journey.resolved")
        )
    assert resolved is not None
    await outreach_hub.db.transaction(lambda s: s.execute(delete(Survey)))
    events = [
        StoredEvent(
            id=uuid.uuid4(),  # two resolutions (the journey reopened and resolved again)
            name=resolved.name,
            occurred_at=resolved.occurred_at,
            customer_id=resolved.customer_id,
            journey_id=journey_id,
            actor=resolved.actor,
            payload=dict(resolved.payload),
        )
        for _ in range(2)
    ]
    # Each planner waits (briefly) at the sampling step for the other to get there too, so
    # without the customer lock both would read "no recent survey" before either writes.
    arrived: list[None] = []
    both = asyncio.Event()

    async def rendezvous() -> None:
        arrived.append(None)
        if len(arrived) == 2:
            both.set()
        with contextlib.suppress(TimeoutError):  # the other waits on the lock: go on alone
            await asyncio.wait_for(both.wait(), timeout=0.5)

    async def plan(session: AsyncSession, event: StoredEvent) -> object:
        original = session.scalar

        async def scalar(statement: object, *args: object, **kwargs: object) -> object:
            if "surveys.created_at >" in str(statement):
                await rendezvous()
            return await original(statement, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(session, "scalar", scalar)
        return await plan_survey(session, event)

    await asyncio.gather(
        *(outreach_hub.db.transaction(functools.partial(plan, event=event)) for event in events)
    )
    async with outreach_hub.db.read() as session:
        statuses = sorted(
            [tuple(row) for row in await session.execute(select(Survey.status, Survey.reason))],
            key=str,
        )
    assert statuses == [("scheduled", None), ("skipped", "cooldown")]
