"""Reads for SLA: the section, a journey's facts and history, its clocks for the API."""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.agents.models import Agent, Team, agent_teams
from relaydesk.bus import Event
from relaydesk.channels.models import Channel
from relaydesk.customers.models import Customer
from relaydesk.journeys.models import Journey, Message
from relaydesk.journeys.states import ACTIVE_JOURNEY_STATUSES
from relaydesk.routing.models import QueueEntryRow, RoutingDecision
from relaydesk.sla.models import SlaClock, SlaNotice
from relaydesk.sla.policies import Happening, JourneyFacts
from relaydesk.sla.schemas import PRIORITIES, ClockOut, EscalationOut, SlaConfig, SlaOut
from relaydesk.workspace.models import WorkspaceSetting

CONFIG_KEY = "_sla"
"""Workspace setting holding the ``sla:`` section (``_`` keys are not plain settings)."""
RECENT_BREACH = timedelta(days=30)
"""A breach this recent counts as a churn signal for routing's value model."""
ESCALATED = "sla.escalated"
_HISTORY_EVENTS = ("journey.waiting", "journey.resolved", "journey.reopened")
_PENDING = "outreach.update_planned"
"""Set waiting on the company (outreach): ends a pause for waiting on the customer."""
_OWNER_CHANGED = "journey.owner_changed"


async def load_config(session: AsyncSession) -> SlaConfig | None:
    row = await session.get(WorkspaceSetting, CONFIG_KEY)
    return _parse(json.dumps(row.value["value"], sort_keys=True)) if row else None


@functools.lru_cache(maxsize=8)
def _parse(stored: str) -> SlaConfig:
    """Parsed once per stored form (calendars with their holidays are built once, too)."""
    return SlaConfig.model_validate(json.loads(stored))


async def routing_inputs(session: AsyncSession, journey_id: uuid.UUID) -> dict[str, Any]:
    """What routing understood of the customer (queue entry, else its latest decision)."""
    queued = await session.get(QueueEntryRow, journey_id)
    if queued is not None and queued.understood:
        return dict(queued.understood)
    inputs = await session.scalar(
        select(RoutingDecision.inputs)
        .where(RoutingDecision.journey_id == journey_id)
        .order_by(RoutingDecision.created_at.desc(), RoutingDecision.id.desc())
        .limit(1)
    )
    return dict(inputs or {})


async def journey_facts(session: AsyncSession, journey: Journey) -> JourneyFacts:
    inputs = await routing_inputs(session, journey.id)
    intent = inputs.get("intent") or (journey.handoff or {}).get("intent")
    decision_value = await session.scalar(
        select(RoutingDecision.value)
        .where(RoutingDecision.journey_id == journey.id)
        .order_by(RoutingDecision.created_at.desc(), RoutingDecision.id.desc())
        .limit(1)
    )
    channel = await session.scalar(
        select(Channel.name)
        .join(Message, Message.channel_id == Channel.id)
        .where(Message.journey_id == journey.id, Message.direction == "inbound")
        .order_by(Message.received_at.desc(), Message.id.desc())
        .limit(1)
    )
    tier = await session.scalar(select(Customer.tier).where(Customer.id == journey.customer_id))
    priority = (journey.context or {}).get("priority")
    queued_team = await session.scalar(
        select(QueueEntryRow.team).where(QueueEntryRow.journey_id == journey.id)
    )
    teams: list[str] = [queued_team] if queued_team else []
    if journey.owner_type == "agent" and journey.owner_agent_id is not None:
        teams += (
            await session.scalars(
                select(Team.name)
                .join(agent_teams, agent_teams.c.team_id == Team.id)
                .where(agent_teams.c.agent_id == journey.owner_agent_id)
                .order_by(Team.name)
            )
        ).all()
    return JourneyFacts(
        priority=priority if priority in PRIORITIES else "normal",
        channel=channel,
        intent=intent,
        intent_signals=frozenset(inputs.get("intent_signals") or ()),
        tier=tier,
        value=float(decision_value or 0.0),
        teams=tuple(teams),
    )


async def journey_history(session: AsyncSession, journey_id: uuid.UUID) -> list[Happening]:
    """Customer messages, replies by people, waiting, resolution and owner changes."""
    history: list[Happening] = []
    events = await session.execute(
        select(Event.occurred_at, Event.name, Event.payload)
        .where(
            Event.journey_id == journey_id,
            Event.name.in_((*_HISTORY_EVENTS, _OWNER_CHANGED, _PENDING)),
        )
        .order_by(Event.occurred_at, Event.id)
    )
    for at, name, payload in events.all():
        if name == _OWNER_CHANGED:
            history.append(Happening(at, f"owner:{payload.get('to_owner')}"))
        elif name == _PENDING:
            history.append(Happening(at, "pending"))
        else:
            history.append(Happening(at, name.removeprefix("journey.")))
    messages = await session.execute(
        select(Message.received_at, Message.created_at, Message.direction, Message.author_type)
        .where(Message.journey_id == journey_id)
        .order_by(Message.received_at, Message.id)
    )
    for received, created, direction, author in messages.all():
        if direction == "inbound":
            history.append(Happening(received, "inbound"))
        elif author == "agent":
            history.append(Happening(created, "reply"))
    history.sort(key=lambda h: h.at)
    return history


async def clocks(session: AsyncSession, journey_id: uuid.UUID) -> dict[str, SlaClock]:
    rows = (await session.scalars(select(SlaClock).where(SlaClock.journey_id == journey_id))).all()
    return {row.kind: row for row in rows}


def queue_due(rows: dict[str, SlaClock]) -> datetime | None:
    """The due time the routing queue ranks by: the earliest open clock's, or the time its
    priority was raised by an escalation (then it ranks as due already)."""
    times = [
        row.priority_raised_at or row.due_at
        for row in rows.values()
        if row.met_at is None and row.due_at is not None and row.status in ("due", "breached")
    ]
    return min((t for t in times if t is not None), default=None)


async def queue_due_at(session: AsyncSession, journey_id: uuid.UUID) -> datetime | None:
    return queue_due(await clocks(session, journey_id))


async def recently_breached(session: AsyncSession, customer_id: uuid.UUID, now: datetime) -> bool:
    """Whether one of the customer's journeys breached an SLA within ``RECENT_BREACH``."""
    found = await session.scalar(
        select(SlaClock.journey_id)
        .join(Journey, Journey.id == SlaClock.journey_id)
        .where(
            Journey.customer_id == customer_id,
            SlaClock.breached_at.is_not(None),
            SlaClock.breached_at >= now - RECENT_BREACH,
            SlaClock.breached_at <= now,
        )
        .limit(1)
    )
    return found is not None


def clock_out(row: SlaClock, now: datetime) -> ClockOut:
    status, breached_at = row.status, row.breached_at
    if status == "due" and row.due_at is not None and now >= row.due_at:
        status, breached_at = "breached", row.due_at  # the breach timer may not have run yet
    return ClockOut(
        kind=row.kind,
        policy=row.policy,
        calendar=row.calendar,
        target_seconds=row.target_seconds,
        started_at=row.started_at,
        due_at=row.due_at,
        status=status,
        met_at=row.met_at,
        breached_at=breached_at,
        remaining_seconds=row.remaining_seconds,
    )


async def escalations(session: AsyncSession, journey_id: uuid.UUID) -> list[EscalationOut]:
    rows = await session.execute(
        select(Event.occurred_at, Event.payload)
        .where(Event.journey_id == journey_id, Event.name == ESCALATED)
        .order_by(Event.occurred_at, Event.id)
    )
    return [
        EscalationOut(
            at=at,
            clock=payload["clock"],
            rule=payload["rule"],
            policy=payload["policy"],
            actions=payload.get("actions", []),
            notified=payload.get("notified", []),
            team=payload.get("team"),
        )
        for at, payload in rows.all()
    ]


async def sla_view(session: AsyncSession, journey_id: uuid.UUID) -> SlaOut | None:
    """The journey's ``sla`` section; None when no policy ever set a clock."""
    rows = await clocks(session, journey_id)
    history = await escalations(session, journey_id)
    if not rows and not history:
        return None
    now = clock.now()
    order = ("first_response", "next_response", "resolution")
    items = [clock_out(rows[k], now) for k in order if k in rows]
    policy = items[0].policy if items else (history[-1].policy if history else None)
    return SlaOut(policy=policy, clocks=items, escalations=history)


async def supervisors(session: AsyncSession, teams: tuple[str, ...]) -> list[uuid.UUID]:
    """Active supervisors of the journey's teams, else every active supervisor."""
    query = select(Agent.id).where(Agent.active.is_(True), Agent.role == "supervisor")
    if teams:
        in_team = (
            await session.scalars(
                query.join(agent_teams, agent_teams.c.agent_id == Agent.id)
                .join(Team, Team.id == agent_teams.c.team_id)
                .where(Team.name.in_(teams))
                .order_by(Agent.id)
            )
        ).all()
        if in_team:
            return list(dict.fromkeys(in_team))
    return list((await session.scalars(query.order_by(Agent.id))).all())


async def active_journey_ids(session: AsyncSession, customer_id: uuid.UUID) -> list[uuid.UUID]:
    """The customer's journeys whose clocks may still run."""
    return list(
        (
            await session.scalars(
                select(Journey.id)
                .where(
                    Journey.customer_id == customer_id,
                    Journey.status.in_(ACTIVE_JOURNEY_STATUSES),
                )
                .order_by(Journey.id)
            )
        ).all()
    )


@dataclass(frozen=True)
class NoticeView:
    id: uuid.UUID
    journey_id: uuid.UUID
    customer_name: str | None
    clock: str
    rule: str
    policy: str
    due_at: datetime | None
    created_at: datetime


NOTICES_SHOWN = 20


async def open_notices(
    session: AsyncSession, agent_id: uuid.UUID, *, limit: int = NOTICES_SHOWN
) -> list[NoticeView]:
    """The agent's escalations not yet seen, newest first, on journeys still open."""
    rows = await session.execute(
        select(
            SlaNotice.id,
            SlaNotice.journey_id,
            Customer.name,
            SlaNotice.clock,
            SlaNotice.rule,
            SlaNotice.policy,
            SlaNotice.due_at,
            SlaNotice.created_at,
        )
        .join(Journey, Journey.id == SlaNotice.journey_id)
        .join(Customer, Customer.id == Journey.customer_id)
        .where(
            SlaNotice.agent_id == agent_id,
            SlaNotice.dismissed_at.is_(None),
            Journey.status.in_(ACTIVE_JOURNEY_STATUSES),
        )
        .order_by(SlaNotice.created_at.desc(), SlaNotice.id.desc())
        .limit(limit)
    )
    return [NoticeView(*row) for row in rows.all()]


async def has_open_notice(
    session: AsyncSession, agent_id: uuid.UUID, journey_id: uuid.UUID
) -> bool:
    found = await session.scalar(
        select(SlaNotice.id)
        .where(
            SlaNotice.agent_id == agent_id,
            SlaNotice.journey_id == journey_id,
            SlaNotice.dismissed_at.is_(None),
        )
        .limit(1)
    )
    return found is not None
