"""Reads for the console pages: the inbox rows and everything the journey view shows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.agents.models import Agent, Team, agent_teams
from relaydesk.channels.models import Channel
from relaydesk.console.auth import ConsoleUser
from relaydesk.customers.models import Customer
from relaydesk.customers.queries import customer_view
from relaydesk.customers.schemas import CustomerOut
from relaydesk.journeys.models import Conversation, Journey, Message
from relaydesk.journeys.queries import journey_view
from relaydesk.journeys.schemas import JourneyOut
from relaydesk.routing.models import QueueEntryRow

VIEWS = ("mine", "queue", "all")
STATUSES = ("active", "open", "waiting", "pending", "resolved", "any")
INBOX_LIMIT = 100
TIMELINE_LIMIT = 300
EXCERPT = 140


@dataclass(frozen=True)
class InboxFilters:
    view: str = "mine"
    channel: str | None = None
    status: str = "active"

    @classmethod
    def parse(
        cls, user: ConsoleUser, view: str | None, channel: str | None, status: str | None
    ) -> InboxFilters:
        """Unknown values fall back to the defaults; only supervisors and admins see all."""
        chosen = view if view in VIEWS else "mine"
        if chosen == "all" and not user.sees_everything:
            chosen = "mine"
        return cls(
            view=chosen,
            channel=(channel or None) if channel and len(channel) <= 100 else None,
            status=status if status in STATUSES else "active",
        )


@dataclass(frozen=True)
class InboxRow:
    journey_id: uuid.UUID
    customer_name: str | None
    channels: list[str]
    excerpt: str
    last_direction: str | None
    status: str
    owner_type: str
    owner_name: str | None
    waiting_since: datetime | None
    last_activity_at: datetime


def for_my_teams(agent_id: uuid.UUID) -> ColumnElement[bool]:
    """Queued journeys routed to no team in particular, or to one of the agent's teams."""
    my_teams = (
        select(Team.name)
        .join(agent_teams, agent_teams.c.team_id == Team.id)
        .where(agent_teams.c.agent_id == agent_id)
    )
    return or_(
        ~exists(
            select(QueueEntryRow.journey_id).where(
                QueueEntryRow.journey_id == Journey.id, QueueEntryRow.team.is_not(None)
            )
        ),
        exists(
            select(QueueEntryRow.journey_id).where(
                QueueEntryRow.journey_id == Journey.id, QueueEntryRow.team.in_(my_teams)
            )
        ),
    )


def _filtered(user: ConsoleUser, filters: InboxFilters) -> Select[uuid.UUID]:
    """The ids of the journeys in view, newest activity first (joins come after the limit)."""
    query = select(Journey.id).where(Journey.status != "combined")
    if filters.view == "mine":
        query = query.where(Journey.owner_type == "agent", Journey.owner_agent_id == user.agent_id)
    elif filters.view == "queue":
        query = query.where(Journey.owner_type == "queue")
        if not user.sees_everything:
            query = query.where(for_my_teams(user.agent_id))
    if filters.status == "active":
        query = query.where(Journey.status.in_(("open", "waiting", "pending")))
    elif filters.status != "any":
        query = query.where(Journey.status == filters.status)
    if filters.channel:
        query = query.where(
            exists(
                select(Conversation.id)
                .join(Channel, Channel.id == Conversation.channel_id)
                .where(Conversation.journey_id == Journey.id, Channel.name == filters.channel)
            )
        )
    return query.order_by(Journey.last_activity_at.desc(), Journey.id.desc())


async def channels_of(
    session: AsyncSession, journey_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    rows = await session.execute(
        select(Conversation.journey_id, Channel.name)
        .join(Channel, Channel.id == Conversation.channel_id)
        .where(Conversation.journey_id.in_(journey_ids))
        .order_by(Conversation.created_at, Conversation.id)
    )
    found: dict[uuid.UUID, list[str]] = {}
    for journey_id, name in rows:
        names = found.setdefault(journey_id, [])
        if name not in names:
            names.append(name)
    return found


async def _last_messages(
    session: AsyncSession, journey_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str, datetime]]:
    ranked = (
        select(
            Message.journey_id,
            Message.text,
            Message.direction,
            Message.created_at,
            func.row_number()
            .over(
                partition_by=Message.journey_id,
                order_by=(Message.created_at.desc(), Message.id.desc()),
            )
            .label("rank"),
        )
        .where(Message.journey_id.in_(journey_ids))
        .subquery()
    )
    rows = await session.execute(
        select(ranked.c.journey_id, ranked.c.text, ranked.c.direction, ranked.c.created_at).where(
            ranked.c.rank == 1
        )
    )
    return {j: (text, direction, at) for j, text, direction, at in rows}


def excerpt(text: str, length: int = EXCERPT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


async def inbox(
    session: AsyncSession, user: ConsoleUser, filters: InboxFilters, *, limit: int = INBOX_LIMIT
) -> list[InboxRow]:
    ids = list((await session.scalars(_filtered(user, filters).limit(limit))).all())
    if not ids:
        return []
    found = {
        journey.id: (journey, customer_name, owner_name)
        for journey, customer_name, owner_name in await session.execute(
            select(Journey, Customer.name, Agent.name)
            .join(Customer, Customer.id == Journey.customer_id)
            .outerjoin(Agent, Agent.id == Journey.owner_agent_id)
            .where(Journey.id.in_(ids))
        )
    }
    rows = [found[i] for i in ids if i in found]
    channels = await channels_of(session, ids)
    last = await _last_messages(session, ids)
    result = []
    for journey, customer_name, owner_name in rows:
        text, direction, at = last.get(journey.id, ("", None, None))
        result.append(
            InboxRow(
                journey_id=journey.id,
                customer_name=customer_name,
                channels=channels.get(journey.id, []),
                excerpt=excerpt(text or ""),
                last_direction=direction,
                status=journey.status,
                owner_type=journey.owner_type,
                owner_name=owner_name,
                waiting_since=at
                if direction == "inbound" and journey.status in ("open", "waiting", "pending")
                else None,
                last_activity_at=journey.last_activity_at,
            )
        )
    return result


async def channel_names(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(Channel.name).order_by(Channel.name))).all())


@dataclass(frozen=True)
class TimelineEntry:
    message_id: uuid.UUID
    channel: str
    channel_kind: str
    direction: str
    author_type: str
    author_label: str
    text: str
    created_at: datetime
    delivery_status: str | None
    delivery_error: str | None

    @property
    def is_event(self) -> bool:
        return self.author_type == "system"


@dataclass(frozen=True)
class PastJourney:
    id: uuid.UUID
    status: str
    outcome: str | None
    created_at: datetime
    resolved_at: datetime | None


@dataclass
class JourneyPage:
    journey: JourneyOut
    details: dict[str, Any]
    """The journey as JSON: optional parts (``handoff``, ``routing``) are read with .get."""
    customer: CustomerOut | None
    timeline: list[TimelineEntry]
    past: list[PastJourney]
    owner_name: str | None
    agent_names: dict[str, str] = field(default_factory=dict)

    @property
    def handoff(self) -> dict[str, Any] | None:
        value = self.details.get("handoff")
        return value if isinstance(value, dict) and value else None

    @property
    def routing(self) -> dict[str, Any] | None:
        value = self.details.get("routing")
        return value if isinstance(value, dict) and value else None


def _author_label(author_type: str, author_id: str | None, names: dict[str, str]) -> str:
    if author_type == "customer":
        return "Customer"
    if author_type == "bot":
        return "Bot"
    if author_type == "system":
        return "System"
    if author_type == "agent":
        return names.get(author_id or "", author_id or "Agent")
    return author_type.capitalize()


async def journey_page(session: AsyncSession, journey_id: uuid.UUID) -> JourneyPage | None:
    view = await journey_view(session, journey_id)
    if view is None:
        return None
    customer = await customer_view(session, view.customer_id)
    rows = (
        await session.execute(
            select(Message, Channel.name, Channel.kind)
            .join(Channel, Channel.id == Message.channel_id)
            .where(Message.journey_id == journey_id)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(TIMELINE_LIMIT)
        )
    ).all()
    agent_ids = {m.author_id for m, _, _ in rows if m.author_type == "agent" and m.author_id}
    names: dict[str, str] = {}
    parsed = []
    for raw in agent_ids:
        try:
            parsed.append(uuid.UUID(raw))
        except ValueError:
            continue
    if parsed:
        for agent_id, name in await session.execute(
            select(Agent.id, Agent.name).where(Agent.id.in_(parsed))
        ):
            names[str(agent_id)] = name
    timeline = [
        TimelineEntry(
            message_id=m.id,
            channel=name,
            channel_kind=kind,
            direction=m.direction,
            author_type=m.author_type,
            author_label=_author_label(m.author_type, m.author_id, names),
            text=m.text,
            created_at=m.created_at,
            delivery_status=m.delivery_status,
            delivery_error=m.delivery_error,
        )
        for m, name, kind in reversed(rows)
    ]
    past = [
        PastJourney(j.id, j.status, j.outcome, j.created_at, j.resolved_at)
        for j in (
            await session.scalars(
                select(Journey)
                .where(Journey.customer_id == view.customer_id, Journey.id != journey_id)
                .order_by(Journey.created_at.desc())
                .limit(10)
            )
        ).all()
    ]
    owner_name = None
    if view.owner.agent_id is not None:
        owner_name = await session.scalar(select(Agent.name).where(Agent.id == view.owner.agent_id))
    return JourneyPage(
        journey=view,
        details=view.model_dump(mode="json"),
        customer=customer,
        timeline=timeline,
        past=past,
        owner_name=owner_name,
        agent_names=names,
    )
