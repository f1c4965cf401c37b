"""Reads for the console pages: the inbox rows and everything the journey view shows."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.agents.models import Agent, Team, agent_teams
from relaydesk.bot.sentiment import analyse
from relaydesk.channels.models import Channel
from relaydesk.console.auth import ConsoleUser
from relaydesk.console.models import ReadMarker
from relaydesk.customers.models import Customer
from relaydesk.customers.queries import customer_view
from relaydesk.customers.schemas import CustomerOut
from relaydesk.journeys.models import Conversation, Journey, Message
from relaydesk.journeys.queries import journey_view
from relaydesk.journeys.schemas import JourneyOut
from relaydesk.routing.models import QueueEntryRow, RoutingDecision
from relaydesk.routing.value import churn_reasons_in
from relaydesk.sla.models import SlaClock

VIEWS = ("mine", "queue", "all")
STATUSES = ("active", "open", "waiting", "pending", "resolved", "any")
SLA_RISKS = ("on_track", "at_risk", "breached")
SLA_LABELS = {"on_track": "On track", "at_risk": "At risk", "breached": "Breached"}
AT_RISK_WITHIN = timedelta(minutes=15)
"""A running clock with no warning escalation is at risk this close to its due time."""
INTENT = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
INBOX_LIMIT = 100
TIMELINE_LIMIT = 300
EXCERPT = 140
TREND_MESSAGES = 10
"""The customer's latest messages (any channel, any journey) the sentiment trend reads."""
TREND_TEXT = 280
"""Characters of each message analysed (an email's fresh text comes first). The repeat check
(difflib) grows with the square of this: 10 messages x 2 earlier ones at 280 characters cost
about 7 ms at worst (long, alike texts), well under 1 ms for chat-length messages."""
TREND_PREVIOUS = 2
"""Earlier messages each one is compared with for repeating oneself (the bot uses 5; fewer
keeps the page's worst case small)."""
TREND_SHIFT = 0.25
"""How far the newer half's mean score must move from the older half's to be a trend."""
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class InboxFilters:
    """What the inbox shows; every filter lives in the URL's query, so links and live
    refreshes (which re-read the same URL) keep it."""

    view: str = "mine"
    channel: str | None = None
    status: str = "active"
    intent: str | None = None
    sla: str | None = None
    problems: tuple[str, ...] = ()
    """Values that were not understood and were ignored, in words for the page."""

    @classmethod
    def parse(
        cls,
        user: ConsoleUser,
        view: str | None = None,
        channel: str | None = None,
        status: str | None = None,
        intent: str | None = None,
        sla: str | None = None,
        *,
        channels: Sequence[str] = (),
    ) -> InboxFilters:
        """Unknown values fall back to the defaults (and say so); only supervisors and
        admins see all. ``channels``, when given, are the names a channel must be one of."""
        problems: list[str] = []
        chosen = view or "mine"
        if chosen not in VIEWS:
            problems.append(f"Unknown view {_shown(chosen)}: showing your journeys.")
            chosen = "mine"
        if chosen == "all" and not user.sees_everything:
            problems.append("Only supervisors and admins see all journeys: showing yours.")
            chosen = "mine"
        if channel and (len(channel) > 100 or (channels and channel not in channels)):
            problems.append(f"No channel named {_shown(channel)}: showing every channel.")
            channel = None
        if status and status not in STATUSES:
            problems.append(f"Unknown status {_shown(status)}: showing active journeys.")
            status = None
        if intent and not INTENT.match(intent):
            problems.append(
                f"{_shown(intent)} is not an intent name (lower case, digits, _ . -): ignored."
            )
            intent = None
        if sla and sla not in SLA_RISKS:
            problems.append(
                f"Unknown SLA risk {_shown(sla)} (use on_track, at_risk or breached): ignored."
            )
            sla = None
        return cls(
            view=chosen,
            channel=channel or None,
            status=status or "active",
            intent=intent or None,
            sla=sla or None,
            problems=tuple(problems),
        )

    def query(self) -> str:
        """These filters as a URL query (for links that keep them)."""
        values = {"view": self.view, "channel": self.channel, "status": self.status}
        values |= {"intent": self.intent, "sla": self.sla}
        return urlencode({k: v for k, v in values.items() if v})


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:39] + "…")


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
    intent: str | None = None
    sla_risk: str | None = None
    """on_track | at_risk | breached, or None when no SLA clock runs."""
    unread: bool = False
    """A customer message arrived after this agent last opened the journey."""


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


def intent_of() -> ColumnElement[str]:
    """The intent the bot handed over with (``journeys.handoff.intent``)."""
    intent: ColumnElement[str] = Journey.handoff["intent"].as_string()
    return intent


def sla_condition(risk: str, now: datetime) -> ColumnElement[bool]:
    """Each journey is in exactly one: breached (a clock breached or past due), at risk (a
    running clock past its warning time, or due within ``AT_RISK_WITHIN`` when it has
    none), else on track (including journeys no SLA clock runs for).

    The clocks are selected first (``ix_sla_clocks_status_due``), once per query, rather
    than probed per journey: a rare state then costs a look-up, not a scan of the inbox.
    """
    breached = select(SlaClock.journey_id).where(
        or_(SlaClock.status == "breached", and_(SlaClock.status == "due", SlaClock.due_at <= now))
    )
    at_risk = select(SlaClock.journey_id).where(
        SlaClock.status == "due",
        SlaClock.due_at > now,
        or_(
            SlaClock.warn_at <= now,
            and_(SlaClock.warn_at.is_(None), SlaClock.due_at <= now + AT_RISK_WITHIN),
        ),
    )
    if risk == "breached":
        return Journey.id.in_(breached)
    if risk == "at_risk":
        return and_(Journey.id.in_(at_risk), Journey.id.not_in(breached))
    return and_(Journey.id.not_in(breached), Journey.id.not_in(at_risk))


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
    if filters.intent:
        query = query.where(intent_of() == filters.intent)
    if filters.sla:
        query = query.where(sla_condition(filters.sla, clock.now()))
    return query.order_by(Journey.last_activity_at.desc(), Journey.id.desc())


async def sla_risks(
    session: AsyncSession, journey_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, str]:
    """The SLA risk of each journey that has a running or breached clock (see
    ``sla_condition``, which this mirrors for the rows on screen)."""
    rows = await session.execute(
        select(SlaClock.journey_id, SlaClock.status, SlaClock.due_at, SlaClock.warn_at).where(
            SlaClock.journey_id.in_(journey_ids), SlaClock.status.in_(("due", "breached"))
        )
    )
    rank = {"on_track": 0, "at_risk": 1, "breached": 2}
    found: dict[uuid.UUID, str] = {}
    for journey_id, status, due_at, warn_at in rows:
        if status == "breached" or (due_at is not None and due_at <= now):
            risk = "breached"
        elif due_at is None:
            continue  # paused
        elif (warn_at is not None and warn_at <= now) or (
            warn_at is None and due_at <= now + AT_RISK_WITHIN
        ):
            risk = "at_risk"
        else:
            risk = "on_track"
        if journey_id not in found or rank[risk] > rank[found[journey_id]]:
            found[journey_id] = risk
    return found


async def unread_among(
    session: AsyncSession, agent_id: uuid.UUID, journey_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """The journeys with a customer message received after the agent last opened them
    (or never opened, with any customer message)."""
    latest: dict[uuid.UUID, datetime] = {
        row.journey_id: row.at
        for row in (
            await session.execute(
                select(Message.journey_id, func.max(Message.received_at).label("at"))
                .where(
                    Message.journey_id.in_(journey_ids),
                    Message.direction == "inbound",
                    Message.author_type == "customer",
                )
                .group_by(Message.journey_id)
            )
        )
    }
    if not latest:
        return set()
    read: dict[uuid.UUID, datetime] = {
        row.journey_id: row.read_at
        for row in await session.execute(
            select(ReadMarker.journey_id, ReadMarker.read_at).where(
                ReadMarker.agent_id == agent_id, ReadMarker.journey_id.in_(list(latest))
            )
        )
    }
    return {j for j, at in latest.items() if j not in read or at > read[j]}


class ChannelName(str):
    """A channel's name that also knows its kind, for the icon beside it."""

    kind: str

    def __new__(cls, name: str, kind: str) -> ChannelName:
        made = super().__new__(cls, name)
        made.kind = kind
        return made


async def channels_of(
    session: AsyncSession, journey_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    rows = await session.execute(
        select(Conversation.journey_id, Channel.name, Channel.kind)
        .join(Channel, Channel.id == Conversation.channel_id)
        .where(Conversation.journey_id.in_(journey_ids))
        .order_by(Conversation.created_at, Conversation.id)
    )
    found: dict[uuid.UUID, list[str]] = {}
    for journey_id, name, kind in rows:
        names = found.setdefault(journey_id, [])
        if name not in names:
            names.append(ChannelName(name, kind))
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
    risks = await sla_risks(session, ids, clock.now())
    unread = await unread_among(session, user.agent_id, ids)
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
                intent=_intent(journey.handoff),
                sla_risk=risks.get(journey.id),
                unread=journey.id in unread,
            )
        )
    return result


def _intent(handoff: dict[str, Any] | None) -> str | None:
    value = (handoff or {}).get("intent")
    return value if isinstance(value, str) and value else None


async def open_journey_of(session: AsyncSession, customer_id: uuid.UUID) -> uuid.UUID | None:
    """The customer's latest open, waiting or pending journey (``ix_journeys_customer_status``)."""
    journey_id: uuid.UUID | None = await session.scalar(
        select(Journey.id)
        .where(
            Journey.customer_id == customer_id,
            Journey.status.in_(("open", "waiting", "pending")),
        )
        .order_by(Journey.last_activity_at.desc())
        .limit(1)
    )
    return journey_id


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
    full_text: str | None = None
    """An email's whole body when the timeline text is trimmed (quoted history, length)."""

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


@dataclass(frozen=True)
class SentimentReading:
    label: str
    """negative | neutral | positive"""
    score: float
    frustrated: bool
    at: datetime


@dataclass(frozen=True)
class SentimentTrend:
    """The customer's recent messages scored by the bot's analyser, oldest first."""

    readings: tuple[SentimentReading, ...]

    @property
    def direction(self) -> str | None:
        """improving | worsening | steady (None with fewer than two messages)."""
        if len(self.readings) < 2:
            return None
        half = len(self.readings) // 2
        older = [r.score for r in self.readings[:half]]
        newer = [r.score for r in self.readings[-half:]]
        shift = sum(newer) / len(newer) - sum(older) / len(older)
        if shift >= TREND_SHIFT:
            return "improving"
        if shift <= -TREND_SHIFT:
            return "worsening"
        return "steady"

    @property
    def latest(self) -> SentimentReading | None:
        return self.readings[-1] if self.readings else None

    @property
    def frustrated(self) -> int:
        return sum(r.frustrated for r in self.readings)

    @property
    def sparkline(self) -> str:
        """One block per message, low for negative, high for positive."""
        top = len(SPARK) - 1
        return "".join(SPARK[round((r.score + 1) / 2 * top)] for r in self.readings)

    @property
    def spoken(self) -> str:
        """The sparkline for a screen reader: each message's label, oldest first."""
        return ", ".join(r.label + (" (frustrated)" if r.frustrated else "") for r in self.readings)


@dataclass(frozen=True)
class ChurnRisk:
    """The churn propensity of the customer's latest valued routing decision."""

    churn: float
    reasons: tuple[str, ...]
    decided_at: datetime
    journey_id: uuid.UUID

    @property
    def percent(self) -> int:
        return round(self.churn * 100)


async def sentiment_trend(session: AsyncSession, customer_id: uuid.UUID) -> SentimentTrend:
    """The latest ``TREND_MESSAGES`` customer messages (``ix_messages_customer_time``), each
    scored by bot/sentiment.py against the ones before it; nothing is stored."""
    rows = (
        await session.execute(
            select(func.substr(Message.text, 1, TREND_TEXT), Message.created_at)
            .where(
                Message.customer_id == customer_id,
                Message.direction == "inbound",
                Message.author_type == "customer",
            )
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(TREND_MESSAGES + TREND_PREVIOUS)
        )
    ).all()
    texts = [text or "" for text, _ in reversed(rows)]
    readings = []
    for i in range(max(0, len(rows) - TREND_MESSAGES), len(rows)):
        if not texts[i].strip():
            continue
        found = analyse(texts[i], texts[max(0, i - TREND_PREVIOUS) : i])
        at = rows[len(rows) - 1 - i][1]
        readings.append(SentimentReading(found.label, found.score, found.frustrated, at))
    return SentimentTrend(tuple(readings))


async def churn_risk(session: AsyncSession, customer_id: uuid.UUID) -> ChurnRisk | None:
    """From the latest stored routing decision on any of the customer's journeys that valued
    it (a forced transfer values nothing); None when routing never assessed the customer."""
    rows = await session.execute(
        select(
            RoutingDecision.inputs,
            RoutingDecision.explanation,
            RoutingDecision.created_at,
            RoutingDecision.journey_id,
        )
        .join(Journey, Journey.id == RoutingDecision.journey_id)
        .where(Journey.customer_id == customer_id, RoutingDecision.policy != "override")
        .order_by(RoutingDecision.created_at.desc(), RoutingDecision.id.desc())
        .limit(3)
    )
    for inputs, explanation, at, journey_id in rows:
        value = (inputs or {}).get("value") if isinstance(inputs, dict) else None
        churn = value.get("churn") if isinstance(value, dict) else None
        if not isinstance(churn, int | float) or isinstance(churn, bool):
            continue
        stored = value.get("churn_reasons") if isinstance(value, dict) else None
        if isinstance(stored, list):
            reasons = tuple(str(r) for r in stored)
        else:
            reasons = churn_reasons_in(explanation or "")
        return ChurnRisk(min(1.0, max(0.0, float(churn))), reasons, at, journey_id)
    return None


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
    sentiment: SentimentTrend = field(default_factory=lambda: SentimentTrend(()))
    churn: ChurnRisk | None = None

    @property
    def handoff(self) -> dict[str, Any] | None:
        value = self.details.get("handoff")
        return value if isinstance(value, dict) and value else None

    @property
    def routing(self) -> dict[str, Any] | None:
        value = self.details.get("routing")
        return value if isinstance(value, dict) and value else None

    @property
    def channel_kinds(self) -> dict[str, str]:
        """Channel name → kind, from the timeline (for the header's icons)."""
        return {
            e.channel: e.channel_kind
            for e in self.timeline
            if e.channel and not getattr(e, "is_note", False)  # notes are merged in later
        }


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


def _full_text(message: Message) -> str | None:
    """The untrimmed body the email adapter kept in ``meta`` (shown collapsed), if any."""
    meta = message.meta if isinstance(message.meta, dict) else {}
    full = meta.get("full_text")
    return full if isinstance(full, str) and full.strip() and full != message.text else None


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
            full_text=_full_text(m),
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
        sentiment=await sentiment_trend(session, view.customer_id),
        churn=await churn_risk(session, view.customer_id),
    )
