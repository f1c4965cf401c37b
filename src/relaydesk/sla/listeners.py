"""SLA in the worker: clocks follow every relevant event; timers run the escalations.

Recomputing is idempotent (clocks are rebuilt from the journey's facts), so a repeated
event is harmless; escalations run in their timer's transaction, so each runs once.
"""

from __future__ import annotations

import functools
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.bus import StoredEvent, on
from relaydesk.customers.events import CustomerUpdated
from relaydesk.hub import Hub
from relaydesk.journeys.events import (
    JourneyReopened,
    JourneyResolved,
    JourneysCombined,
    JourneyWaiting,
    MessageQueued,
    MessageReceived,
    OwnerChanged,
)
from relaydesk.journeys.listeners import LIVE_TOPIC
from relaydesk.outreach.events import UpdatePlanned
from relaydesk.routing.events import JourneyRouted
from relaydesk.sla.actions import SLA_BREACH, SLA_WARNING, recompute_locked
from relaydesk.sla.escalation import escalate
from relaydesk.sla.events import SlaEscalated
from relaydesk.sla.queries import active_journey_ids, load_config
from relaydesk.timers import DueTimer, on_timer


@on(MessageReceived)
@on(MessageQueued)
@on(JourneyWaiting)
@on(JourneyResolved)
@on(JourneyReopened)
@on(JourneyRouted)
@on(OwnerChanged)
@on(JourneysCombined)
@on(UpdatePlanned)
async def follow_journey(hub: Hub, event: StoredEvent) -> None:
    """Customer and agent messages, waiting (on the customer or the company), resolve/reopen,
    intent known, owner changes."""
    journey_id = event.journey_id
    if journey_id is None:
        return
    async with hub.db.read() as session:
        if await load_config(session) is None:
            return  # no sla: section, no clocks: nothing to write on the hot path
    await hub.db.transaction(lambda s: recompute_locked(s, journey_id))
    combined = event.payload.get("combined_journey_id")
    if combined:
        other = uuid.UUID(str(combined))
        await hub.db.transaction(lambda s: recompute_locked(s, other))


POLICY_FIELDS = frozenset({"tier"})
"""Customer fields a policy matches on (the value comes from the journey's routing decision,
which routing events already follow)."""


@on(CustomerUpdated)
async def follow_customer(hub: Hub, event: StoredEvent) -> None:
    """A new tier can choose another policy for the customer's open journeys."""
    customer_id = event.customer_id
    if customer_id is None or not POLICY_FIELDS & set(event.payload.get("fields") or ()):
        return
    async with hub.db.read() as session:
        if await load_config(session) is None:
            return
        journeys = await active_journey_ids(session, customer_id)
    for journey_id in journeys:
        await hub.db.transaction(functools.partial(recompute_locked, journey_id=journey_id))


@on(SlaEscalated)
async def announce_escalation(hub: Hub, event: StoredEvent) -> None:
    """Tell live consoles (ids only, no personal data): ``sla.warning`` or ``sla.breach``."""
    await hub.broadcast.publish(
        LIVE_TOPIC,
        {
            "type": f"sla.{event.payload['rule']}",
            "journey_id": str(event.journey_id),
            "clock": event.payload["clock"],
            "notified": event.payload.get("notified", []),
        },
    )


async def _fire(hub: Hub, timer: DueTimer, session: AsyncSession) -> None:
    await escalate(
        session,
        uuid.UUID(str(timer.payload["journey_id"])),
        str(timer.payload["clock"]),
        timer.kind,
        str(timer.payload["started_at"]),
        timer_key=timer.key,
    )


@on_timer(SLA_WARNING, in_transaction=True)
async def warning_due(hub: Hub, timer: DueTimer, session: AsyncSession) -> None:
    await _fire(hub, timer, session)


@on_timer(SLA_BREACH, in_transaction=True)
async def breach_due(hub: Hub, timer: DueTimer, session: AsyncSession) -> None:
    await _fire(hub, timer, session)
