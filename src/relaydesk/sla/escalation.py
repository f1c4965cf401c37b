"""Escalations: what a clock's warning or breach does, run once inside its timer's transaction.

- ``raise_priority``: the routing queue ranks the journey as due now (full SLA points).
- ``notify_assignee`` / ``notify_supervisor``: named in the published ``SlaEscalated``
  (consoles show it live) and left as a notice in each one's inbox until they open the
  journey or dismiss it; supervisors of the journey's teams, else all supervisors.
- ``reoffer``: away from the agent who holds it, to the policy's ``escalate_to`` team
  (through routing's transfer), else back to the queue for another agent (the holder is
  excluded, as after a missed offer).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.agents.models import Team
from relaydesk.bus import publish
from relaydesk.journeys.states import ACTIVE_JOURNEY_STATUSES
from relaydesk.routing.actions import assign_waiting, end_holding, enqueue, transfer
from relaydesk.routing.actions.assign import holder, lock_journey, set_sla_due
from relaydesk.routing.actions.transfer import TransferRefused
from relaydesk.routing.understanding import Understood
from relaydesk.sla.actions import (
    SLA_WARNING,
    Recomputed,
    leave_notices,
    recompute,
    sync_timers,
)
from relaydesk.sla.events import SlaEscalated
from relaydesk.sla.queries import queue_due, routing_inputs, supervisors

ACTOR = "sla"


async def escalate(
    session: AsyncSession,
    journey_id: uuid.UUID,
    clock_kind: str,
    timer_kind: str,
    started_at: str,
    *,
    timer_key: str,
) -> bool:
    """Run the warning or breach actions of one clock once; False when it no longer applies
    (met, paused, a new cycle, already escalated, not yet due)."""
    journey = await lock_journey(session, journey_id)
    if journey is None:
        return False
    state = await recompute(session, journey_id, sync=False)
    if state is None:
        return False
    rule = "warning" if timer_kind == SLA_WARNING else "breach"
    row = state.rows.get(clock_kind)
    now = clock.now()
    ready = (
        row is not None
        and row.met_at is None
        and row.due_at is not None
        and row.status in ("due", "breached")
        and row.started_at.isoformat() == started_at
        and _threshold(rule, row.warn_at, row.due_at) <= now
        and (row.warned_at if rule == "warning" else row.breach_escalated_at) is None
    )
    if not ready or row is None:
        # Stale (the clock moved, e.g. a new policy): re-plan, this key included; a timer
        # re-scheduled while it fires gets a new id, so it stays pending for its new time.
        await sync_timers(session, state)
        return False
    assert row.due_at is not None
    if rule == "warning" and row.due_at <= now and row.breach_escalated_at is None:
        row.warned_at = now  # both passed (the worker was down): the breach says it all
        await sync_timers(session, state, skip=timer_key)
        return False
    spec = state.escalation
    actions = list(spec.on_warning if rule == "warning" else spec.on_breach)
    if rule == "warning":
        row.warned_at = now
    else:
        row.breach_escalated_at = now
    notified: list[uuid.UUID] = []
    if "raise_priority" in actions:
        row.priority_raised_at = now
    if "notify_assignee" in actions:
        assignee = journey.owner_agent_id if journey.owner_type == "agent" else None
        if assignee is None:
            current = await holder(session, journey_id)
            assignee = current.agent_id if current is not None else None
        if assignee is not None:
            notified.append(assignee)
    if "notify_supervisor" in actions:
        notified += [s for s in await supervisors(session, state.teams) if s not in notified]
    team = None
    if "reoffer" in actions and journey.status in ACTIVE_JOURNEY_STATUSES:
        team = await _reoffer(session, state, spec.escalate_to, rule, clock_kind)
    await leave_notices(
        session,
        journey_id,
        notified,
        clock_kind=clock_kind,
        rule=rule,
        policy=state.policy.name,
        due_at=row.due_at,
    )
    await publish(
        session,
        SlaEscalated(
            customer_id=journey.customer_id,
            journey_id=journey_id,
            clock=clock_kind,
            rule=rule,
            policy=state.policy.name,
            actions=actions,
            notified=notified,
            team=team,
            due_at=row.due_at.isoformat() if row.due_at else None,
        ),
        actor=ACTOR,
    )
    await session.flush()
    await sync_timers(session, state, skip=timer_key)
    await set_sla_due(session, journey_id, queue_due(state.rows))
    return True


def _threshold(rule: str, warn_at: datetime | None, due_at: datetime) -> datetime:
    return (warn_at or due_at) if rule == "warning" else due_at


async def _reoffer(
    session: AsyncSession, state: Recomputed, team: str | None, rule: str, clock_kind: str
) -> str | None:
    """Hand the journey to ``team`` (if it exists), else to the queue without its holder."""
    journey_id = state.journey.id
    reason = f"sla {rule}: {clock_kind}"
    if team is not None and await session.scalar(select(Team.id).where(Team.name == team)):
        try:
            await transfer(session, journey_id, "team", actor=ACTOR, reason=reason, team=team)
            return team
        except TransferRefused:
            pass
    current = await holder(session, journey_id)
    previous = current.agent_id if current is not None else None
    if previous is None and state.journey.owner_type == "agent":
        previous = state.journey.owner_agent_id
    understood = Understood.from_dict(await routing_inputs(session, journey_id))
    await end_holding(session, journey_id, "sla_breach", actor=ACTOR)
    queued = await enqueue(session, state.journey, understood, reason=reason, actor=ACTOR)
    if previous is not None and str(previous) not in queued.excluded:
        queued.excluded = [*queued.excluded, str(previous)]
    await assign_waiting(session, journey_id, trigger="sla", actor=ACTOR)
    return None
