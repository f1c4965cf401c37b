"""The only code that writes SLA state: the workspace section, clocks and their timers.

``recompute`` rebuilds a journey's clocks from its facts (policy match, calendar, history),
so running it again for the same event changes nothing; it keeps each clock's escalation
marks while the clock's cycle (its start) stays the same, and schedules the warning and
breach timers of the clocks still running (cancelling the others).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock, timers
from relaydesk.db import new_id
from relaydesk.journeys.models import Journey
from relaydesk.journeys.states import JourneyStatus
from relaydesk.routing.actions.assign import set_sla_due
from relaydesk.sla.calendar import BusinessCalendar
from relaydesk.sla.models import SlaClock, SlaNotice
from relaydesk.sla.policies import ClockState, calendar_for, choose_policy, compute_clocks
from relaydesk.sla.queries import (
    CONFIG_KEY,
    clocks,
    journey_facts,
    journey_history,
    load_config,
    queue_due,
)
from relaydesk.sla.schemas import CLOCK_KINDS, EscalationSpec, PolicySpec, SlaConfig

if TYPE_CHECKING:
    from relaydesk.workspace.actions import Change

SLA_WARNING = "sla.warning"
SLA_BREACH = "sla.breach"
ALWAYS_OPEN = "24/7"


def timer_key(kind: str, clock_kind: str, journey_id: uuid.UUID) -> str:
    return f"sla:{kind.removeprefix('sla.')}:{clock_kind}:{journey_id}"


async def apply_sla(session: AsyncSession, config: SlaConfig | None, *, actor: str) -> list[Change]:
    """Idempotent: the same section twice reports ``unchanged``; no section changes nothing.

    Clocks already running keep their policy until the journey's next event recomputes them.
    """
    from relaydesk.workspace.actions import store_section  # the workspace imports this module

    if config is None:
        return []
    return await store_section(session, "sla", CONFIG_KEY, stored_form(config))


def stored_form(config: SlaConfig) -> dict[str, Any]:
    """What the file declared, JSON-ready (targets as seconds); reads back as ``config``."""

    def plain(value: Any) -> Any:
        if isinstance(value, timedelta):
            return value.total_seconds()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    result: dict[str, Any] = plain(config.model_dump(exclude_unset=True))
    return result


@dataclass
class Recomputed:
    journey: Journey
    policy: PolicySpec
    escalation: EscalationSpec
    calendar: BusinessCalendar
    teams: tuple[str, ...]
    rows: dict[str, SlaClock]


def _status(state: ClockState, now_breached: bool) -> str:
    if state.met_at is not None:
        return "breached" if state.breached else "met"
    if state.paused:
        return "paused"
    return "breached" if state.breached or now_breached else "due"


async def recompute(
    session: AsyncSession, journey_id: uuid.UUID, *, sync: bool = True
) -> Recomputed | None:
    """Rebuild the journey's clocks; None (and no clocks) when no policy applies."""
    journey = await session.get(Journey, journey_id)
    config = await load_config(session)
    if journey is None or config is None:
        return None  # without a section nothing was ever set (applying never removes it)
    if journey.status == JourneyStatus.COMBINED.value:
        await _clear(session, journey_id)
        return None
    facts = await journey_facts(session, journey)
    policy = choose_policy(config, facts)
    if policy is None:
        await _clear(session, journey_id)
        return None
    calendar_name = calendar_for(config, policy, facts)
    calendar = (
        config.business_calendars[calendar_name]
        if calendar_name is not None
        else BusinessCalendar.always_open()
    )
    escalation = config.escalation_of(policy)
    states = compute_clocks(
        policy, calendar, journey.created_at, await journey_history(session, journey_id)
    )
    rows = await clocks(session, journey_id)
    now = clock.now()
    kept: dict[str, SlaClock] = {}
    for state in states:
        row = rows.pop(state.kind, None)
        if row is None:
            row = SlaClock(journey_id=journey_id, kind=state.kind, updated_at=now)
            session.add(row)
        elif row.started_at != state.started_at or row.policy != policy.name:
            row.warned_at = row.breach_escalated_at = row.priority_raised_at = None
        running = state.met_at is None and not state.paused and state.due_at is not None
        past_due = running and state.due_at is not None and now >= state.due_at
        row.policy = policy.name
        row.calendar = calendar_name or ALWAYS_OPEN
        row.target_seconds = state.target.total_seconds()
        row.started_at = state.started_at
        row.due_at = state.due_at
        row.status = _status(state, past_due)
        row.met_at = state.met_at
        row.breached_at = state.due_at if (state.breached or past_due) else None
        row.remaining_seconds = state.remaining.total_seconds() if state.remaining else None
        if state.paused and state.remaining is not None and not state.remaining:
            row.remaining_seconds = 0.0
        row.warn_at = state.at_share(escalation.warn_at, calendar) if running else None
        row.updated_at = now
        kept[state.kind] = row
    for stale in rows.values():
        await session.delete(stale)
    await session.flush()
    result = Recomputed(journey, policy, escalation, calendar, facts.teams, kept)
    if sync:
        await sync_timers(session, result)
    await set_sla_due(session, journey_id, queue_due(kept))
    return result


async def _clear(session: AsyncSession, journey_id: uuid.UUID) -> None:
    for kind in CLOCK_KINDS:
        for timer in (SLA_WARNING, SLA_BREACH):
            await timers.cancel(session, timer_key(timer, kind, journey_id))
    await session.execute(delete(SlaClock).where(SlaClock.journey_id == journey_id))
    await set_sla_due(session, journey_id, None)


def _running(row: SlaClock | None) -> bool:
    return (
        row is not None
        and row.met_at is None
        and row.due_at is not None
        and row.status in ("due", "breached")
    )


async def sync_timers(session: AsyncSession, state: Recomputed, *, skip: str | None = None) -> None:
    """Warning and breach timers for running clocks not yet escalated; others cancelled."""
    journey_id = state.journey.id
    for kind in CLOCK_KINDS:
        row = state.rows.get(kind)
        plans = (
            (
                SLA_WARNING,
                row.warn_at if row and state.escalation.on_warning and not row.warned_at else None,
            ),
            (SLA_BREACH, row.due_at if row and not row.breach_escalated_at else None),
        )
        for timer_kind, due in plans:
            key = timer_key(timer_kind, kind, journey_id)
            if key == skip:
                continue
            if _running(row) and due is not None and row is not None:
                payload = {
                    "journey_id": str(journey_id),
                    "clock": kind,
                    "started_at": row.started_at.isoformat(),
                }
                await timers.schedule(session, timer_kind, due, key=key, payload=payload)
            else:
                await timers.cancel(session, key)


async def recompute_locked(session: AsyncSession, journey_id: uuid.UUID) -> Recomputed | None:
    """``recompute`` under the journey's row lock (events of one journey in any order)."""
    await session.scalar(select(Journey.id).where(Journey.id == journey_id).with_for_update())
    return await recompute(session, journey_id)


async def leave_notices(
    session: AsyncSession,
    journey_id: uuid.UUID,
    agents: list[uuid.UUID],
    *,
    clock_kind: str,
    rule: str,
    policy: str,
    due_at: datetime | None,
) -> None:
    """Each notified agent finds the escalation in their inbox until they see it."""
    now = clock.now()
    for agent_id in agents:
        session.add(
            SlaNotice(
                id=new_id(),
                agent_id=agent_id,
                journey_id=journey_id,
                clock=clock_kind,
                rule=rule,
                policy=policy,
                due_at=due_at,
                created_at=now,
                dismissed_at=None,
            )
        )


async def dismiss_notices(
    session: AsyncSession,
    agent_id: uuid.UUID,
    *,
    notice_id: uuid.UUID | None = None,
    journey_id: uuid.UUID | None = None,
) -> int:
    """The agent saw them (one notice, those of one journey, or all); returns how many."""
    query = update(SlaNotice).where(
        SlaNotice.agent_id == agent_id, SlaNotice.dismissed_at.is_(None)
    )
    if notice_id is not None:
        query = query.where(SlaNotice.id == notice_id)
    if journey_id is not None:
        query = query.where(SlaNotice.journey_id == journey_id)
    result = await session.execute(
        query.values(dismissed_at=clock.now()).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
