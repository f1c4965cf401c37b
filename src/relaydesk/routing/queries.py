"""Reads for routing: the configuration, snapshots for ``decide``, the queue, decisions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.agents.models import Agent, Team, agent_teams
from relaydesk.channels.models import Channel
from relaydesk.channels.registry import UnknownChannelKind, adapter_class
from relaydesk.customers.models import Customer, Order
from relaydesk.journeys.models import Conversation, Journey, Message
from relaydesk.routing.assignment import JourneySnapshot
from relaydesk.routing.models import AgentLoad, Assignment, QueueEntryRow, RoutingDecision
from relaydesk.routing.pool import AgentPool, AgentSnapshot
from relaydesk.routing.queue import QueueEntry, estimated_wait, ordered, priority
from relaydesk.routing.schemas import QueueItem, QueueOut, RoutingConfig, RoutingOut
from relaydesk.routing.understanding import Understood
from relaydesk.routing.value import CustomerValue, Signals
from relaydesk.sla.queries import recently_breached
from relaydesk.workspace.config import load_workspace_config
from relaydesk.workspace.models import WorkspaceSetting

CONFIG_KEY = "_routing"
"""Workspace setting holding the ``routing:`` section (``_`` keys are not plain settings)."""
RECENT_ORDERS = timedelta(days=90)
RECENT_CONTACTS = timedelta(days=7)


@dataclass(frozen=True)
class RoutingContext:
    config: RoutingConfig
    default_language: str


async def load_context(session: AsyncSession) -> RoutingContext:
    workspace = await load_workspace_config(session)
    row = await session.get(WorkspaceSetting, CONFIG_KEY)
    declared = row.value["value"] if row else {}
    if row is not None and "coefficients" not in declared and "fitted" in row.value:
        declared = {**declared, "coefficients": row.value["fitted"]}  # ``routing fit --apply``
    config = RoutingConfig.model_validate(declared)
    if config.currency is None:
        config = config.model_copy(update={"currency": workspace.currency})
    return RoutingContext(config, workspace.default_language)


def channel_class(kind: str) -> str:
    try:
        return adapter_class(kind).capabilities.channel_class
    except UnknownChannelKind:
        return "messaging"


async def agent_snapshots(
    session: AsyncSession, default_language: str, ids: list[uuid.UUID] | None = None
) -> list[AgentSnapshot]:
    """Online, active agents (only ``ids``, if given) with their loads and teams."""
    query = (
        select(
            Agent.id,
            Agent.presence,
            Agent.languages,
            Agent.skills,
            Agent.capacity,
            AgentLoad.load,
            AgentLoad.last_assigned_at,
        )
        .outerjoin(AgentLoad, AgentLoad.agent_id == Agent.id)
        .where(Agent.active.is_(True), Agent.presence == "online")
    )
    if ids is not None:
        query = query.where(Agent.id.in_(ids))
    rows = (await session.execute(query)).all()
    teams: dict[uuid.UUID, set[str]] = {}
    if rows:
        members = select(agent_teams.c.agent_id, Team.name).join(
            Team, Team.id == agent_teams.c.team_id
        )
        if ids is not None:
            members = members.where(agent_teams.c.agent_id.in_([r[0] for r in rows]))
        for agent_id, name in (await session.execute(members)).all():
            teams.setdefault(agent_id, set()).add(name)
    return [
        AgentSnapshot(
            id=agent_id,
            presence=presence,
            languages=frozenset(languages or [default_language]),
            skills=dict(skills or {}),
            capacity=dict(capacity or {}),
            load=float(load or 0.0),
            teams=frozenset(teams.get(agent_id, ())),
            last_assigned=last.timestamp() if last else 0.0,
        )
        for agent_id, presence, languages, skills, capacity, load, last in rows
    ]


async def agent_pool(session: AsyncSession, default_language: str) -> AgentPool:
    """Online, active agents with their loads and teams, read now."""
    return AgentPool(await agent_snapshots(session, default_language))


async def latest_inbound(session: AsyncSession, journey_id: uuid.UUID) -> Message | None:
    return await session.scalar(
        select(Message)
        .where(Message.journey_id == journey_id, Message.direction == "inbound")
        .order_by(Message.received_at.desc(), Message.id.desc())
        .limit(1)
    )


async def previous_texts(session: AsyncSession, message: Message, limit: int = 5) -> list[str]:
    texts = (
        await session.scalars(
            select(Message.text)
            .where(
                Message.journey_id == message.journey_id,
                Message.direction == "inbound",
                Message.id != message.id,
                Message.received_at <= message.received_at,
            )
            .order_by(Message.received_at.desc())
            .limit(limit)
        )
    ).all()
    return list(reversed(texts))


_ORDERS = cast(Table, Order.__table__)
_CONVERSATIONS = cast(Table, Conversation.__table__)
_ASSIGNMENTS = cast(Table, Assignment.__table__)
_COUNTS = select(
    select(func.count(_ORDERS.c.id))
    .where(
        _ORDERS.c.customer_id == bindparam("customer_id"),
        _ORDERS.c.currency == bindparam("currency"),
    )
    .scalar_subquery(),
    select(func.avg(_ORDERS.c.amount))
    .where(
        _ORDERS.c.customer_id == bindparam("customer_id"),
        _ORDERS.c.currency == bindparam("currency"),
    )
    .scalar_subquery(),
    select(func.count(_ORDERS.c.id))
    .where(
        _ORDERS.c.customer_id == bindparam("customer_id"),
        _ORDERS.c.ordered_at >= bindparam("orders_since"),
    )
    .scalar_subquery(),
    select(func.count(_CONVERSATIONS.c.id))
    .where(
        _CONVERSATIONS.c.customer_id == bindparam("customer_id"),
        _CONVERSATIONS.c.created_at >= bindparam("contacts_since"),
    )
    .scalar_subquery(),
    select(func.count(func.distinct(_CONVERSATIONS.c.channel_id)))
    .where(_CONVERSATIONS.c.journey_id == bindparam("journey_id"))
    .scalar_subquery(),
)
"""One round trip for the counts (orders, their average, recent orders, contacts, channels
tried), built once: every decision runs it."""
_PREVIOUS_AGENT = (
    select(_ASSIGNMENTS.c.agent_id, _ASSIGNMENTS.c.accepted_at, _ASSIGNMENTS.c.ended_at)
    .where(
        _ASSIGNMENTS.c.customer_id == bindparam("customer_id"),
        _ASSIGNMENTS.c.accepted_at.is_not(None),
    )
    .order_by(_ASSIGNMENTS.c.accepted_at.desc())
    .limit(1)
)


async def journey_snapshot(
    session: AsyncSession,
    journey: Journey,
    understood: Understood,
    ctx: RoutingContext,
    now: datetime,
    queued: QueueEntryRow | None = None,
) -> JourneySnapshot:
    """Everything ``decide`` needs about one journey, read now."""
    customer = await session.get(Customer, journey.customer_id)
    currency = ctx.config.currency or "EUR"
    message = await latest_inbound(session, journey.id)
    channel = await session.get(Channel, message.channel_id) if message else None
    order_count, order_avg, recent_orders, contacts, channels = (
        await session.execute(
            _COUNTS,
            {
                "customer_id": journey.customer_id,
                "journey_id": journey.id,
                "currency": currency,
                "orders_since": now - RECENT_ORDERS,
                "contacts_since": now - RECENT_CONTACTS,
            },
        )
    ).one()
    previous = (
        await session.execute(_PREVIOUS_AGENT, {"customer_id": journey.customer_id})
    ).first()
    tenure = (now - customer.created_at).days / 365.25 if customer else 0.0
    language = understood.language
    if language is None and customer is not None and customer.locale:
        language = customer.locale[:2].lower()
    return JourneySnapshot(
        id=journey.id,
        channel=channel.name if channel else None,
        channel_class=channel_class(channel.kind) if channel else "messaging",
        language=language,
        signals=Signals(
            intent=understood.intent,
            intent_signals=understood.intent_signals,
            sentiment=understood.sentiment,
            tier=customer.tier if customer else None,
            tenure_years=max(0.0, tenure),
            recent_orders=int(recent_orders or 0),
            contacts_7d=max(1, int(contacts or 0)),
            channels_tried=max(1, int(channels or 0)),
            sla_breached=bool((journey.context or {}).get("sla_breached", False))
            or await recently_breached(session, journey.customer_id, now),
        ),
        customer=CustomerValue(
            lifetime_value=float(customer.lifetime_value or 0) if customer else 0.0,
            annual_value=_float(customer.annual_value) if customer else None,
            average_order_value=_float(order_avg) if order_count else None,
        ),
        bot_may_resolve=understood.bot_may_resolve,
        human_request=understood.human_request,
        needs_person=queued is not None,
        team=queued.team if queued else None,
        previous_agent_id=previous[0] if previous else None,
        previous_agent_at=(previous[2] or now) if previous else None,
        waiting_since=queued.enqueued_at if queued else None,
        sla_due_at=queued.sla_due_at if queued else None,
        excluded_agents=frozenset(uuid.UUID(a) for a in (queued.excluded if queued else ())),
    )


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


async def waiting(session: AsyncSession) -> list[QueueEntryRow]:
    return list((await session.scalars(select(QueueEntryRow))).all())


async def queue_view(session: AsyncSession, now: datetime) -> QueueOut:
    ctx = await load_context(session)
    rows = {row.journey_id: row for row in await waiting(session)}
    offers = dict(
        (
            await session.execute(
                select(Assignment.journey_id, Assignment.agent_id).where(
                    Assignment.status == "offered"
                )
            )
        ).all()
    )
    online = await session.scalar(
        select(func.count(Agent.id)).where(Agent.active.is_(True), Agent.presence == "online")
    )
    entries = [
        QueueEntry(r.journey_id, r.value, r.enqueued_at, r.sla_due_at) for r in rows.values()
    ]
    items = []
    for position, entry in enumerate(ordered(entries, now, ctx.config), start=1):
        row = rows[entry.journey_id]
        wait = estimated_wait(position, int(online or 0), ctx.config)
        items.append(
            QueueItem(
                journey_id=entry.journey_id,
                position=position,
                value=round(entry.value, 2),
                priority=round(priority(entry, now, ctx.config), 3),
                waiting_seconds=max(0.0, (now - entry.enqueued_at).total_seconds()),
                estimated_wait_seconds=wait,
                team=row.team,
                offered_to=offers.get(entry.journey_id),
            )
        )
    return QueueOut(currency=ctx.config.currency or "EUR", items=items, online_agents=online or 0)


async def latest_decision(session: AsyncSession, journey_id: uuid.UUID) -> RoutingOut | None:
    row = await session.scalar(
        select(RoutingDecision)
        .where(RoutingDecision.journey_id == journey_id)
        .order_by(RoutingDecision.created_at.desc(), RoutingDecision.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    return RoutingOut(
        decision=row.target,
        agent_id=row.agent_id,
        policy=row.policy,
        reason=row.reason,
        value=round(row.value, 2),
        currency=row.currency,
        explanation=row.explanation,
        decided_at=row.created_at,
        inputs=row.inputs,
    )
