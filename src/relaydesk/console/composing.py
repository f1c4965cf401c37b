"""What the composer shows beside the reply box: the channels the agent may write on (and
why not), templates, canned replies filled for this journey, knowledge-base suggestions for
the customer's last message, transfer targets, and the internal notes on the timeline.

Channel rules come from journeys/reply_rules.py (``check_reply``), the same function
``queue_reply`` applies when the reply is posted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.agents.models import Agent, Team
from relaydesk.bot.kb import KbMatch, KnowledgeBase
from relaydesk.canned.models import CannedReply
from relaydesk.canned.render import TemplateError, fill, pick_language
from relaydesk.channels.models import Channel
from relaydesk.channels.registry import adapter_class
from relaydesk.console.auth import ConsoleUser
from relaydesk.console.queries import JourneyPage, TimelineEntry
from relaydesk.customers.models import Consent, Identity
from relaydesk.journeys.models import Conversation, Journey, JourneyNote
from relaydesk.journeys.reply_rules import ChannelSnapshot, Verdict, check_reply

KB_SUGGESTIONS = 3


@dataclass(frozen=True)
class ChannelOption:
    name: str
    kind: str
    verdict: Verdict
    current: bool
    """The channel a reply goes to when the agent picks none (the customer's latest)."""
    templates: tuple[str, ...]
    """Approved templates configured on the channel (for a closed reply window)."""

    @property
    def selectable(self) -> bool:
        return self.verdict.can_send or (self.verdict.template_only and bool(self.templates))

    @property
    def why_not(self) -> str | None:
        return None if self.verdict.refusal is None else self.verdict.refusal.reason


def _conversation_key(c: Conversation) -> tuple[datetime, datetime]:
    """The same choice as ``queue_reply``: the conversation the customer used last."""
    return (c.last_inbound_at or c.created_at, c.created_at)


def templates_of(channel: Channel) -> tuple[str, ...]:
    if adapter_class(channel.kind).capabilities.outside_window != "template":
        return ()
    configured = (channel.settings or {}).get("templates")
    return tuple(sorted(configured)) if isinstance(configured, dict) else ()


async def channel_options(
    session: AsyncSession, journey_id: uuid.UUID, customer_id: uuid.UUID, now: datetime
) -> list[ChannelOption]:
    """Every channel of the journey, and every enabled channel the customer can be reached
    on, each with ``check_reply``'s verdict for a free-text reply."""
    conversations = (
        await session.execute(
            select(Conversation, Channel)
            .join(Channel, Channel.id == Conversation.channel_id)
            .where(Conversation.journey_id == journey_id)
        )
    ).all()
    latest: dict[str, tuple[Conversation, Channel]] = {}
    for conversation, channel in conversations:
        held = latest.get(channel.name)
        if held is None or _conversation_key(conversation) > _conversation_key(held[0]):
            latest[channel.name] = (conversation, channel)
    written = [
        pair for pair in latest.values() if adapter_class(pair[1].kind).takes_written_replies
    ]
    current = max(written, key=lambda p: _conversation_key(p[0]))[1].name if written else None
    identities = [
        (i.kind, i.scope, i.value)
        for i in (
            await session.scalars(select(Identity).where(Identity.customer_id == customer_id))
        ).all()
    ]
    revoked = frozenset(
        (
            await session.scalars(
                select(Consent.channel).where(
                    Consent.customer_id == customer_id, Consent.status == "revoked"
                )
            )
        ).all()
    )
    options: list[ChannelOption] = []
    for channel in (await session.scalars(select(Channel).order_by(Channel.name))).all():
        held = latest.get(channel.name)
        if held is None:
            if not channel.enabled:
                continue
            try:
                klass = adapter_class(channel.kind)
            except ValueError:
                continue
            if klass.address_from_identities(identities, channel.name) is None:
                continue
        snapshot = ChannelSnapshot(
            name=channel.name,
            kind=channel.kind,
            enabled=channel.enabled,
            reachable=True,
            last_inbound_at=held[0].last_inbound_at if held else None,
            revoked=revoked,
        )
        options.append(
            ChannelOption(
                name=channel.name,
                kind=channel.kind,
                verdict=check_reply(snapshot, now),
                current=channel.name == current,
                templates=templates_of(channel),
            )
        )
    options.sort(key=lambda o: (not o.current, o.name not in latest, o.name))
    return options


def variable_values(page: JourneyPage, user: ConsoleUser) -> dict[str, str | None]:
    customer = page.customer
    name = customer.name if customer else None
    parts = (name or "").split()
    context = page.journey.context or {}
    facts = context.get("facts") if isinstance(context.get("facts"), dict) else {}
    handoff = page.handoff or {}

    def fact(key: str) -> str | None:
        value = context.get(key) or (facts or {}).get(key)
        if value is None and isinstance(handoff.get("facts"), dict):
            value = handoff["facts"].get(key)
        return None if value is None else str(value)

    return {
        "customer.name": name,
        "customer.first_name": parts[0] if parts else None,
        "customer.last_name": parts[-1] if len(parts) > 1 else None,
        "customer.email": customer.email if customer else None,
        "customer.phone": customer.phone if customer else None,
        "agent.name": user.name,
        "agent.first_name": user.name.split()[0] if user.name.split() else None,
        "journey.order_number": fact("order_number"),
        "journey.amount": fact("amount"),
        "journey.intent": fact("intent")
        or (str(handoff["intent"]) if handoff.get("intent") else None),
    }


@dataclass(frozen=True)
class CannedOption:
    name: str
    title: str
    language: str
    text: str
    """Filled for this journey and agent."""
    missing: tuple[str, ...]
    error: str | None = None


def canned_options(
    rows: list[CannedReply], values: dict[str, str | None], language: str | None
) -> list[CannedOption]:
    options = []
    for row in rows:
        chosen = pick_language(row.texts, language)
        if chosen is None:
            continue
        try:
            filled = fill(row.texts[chosen], values)
        except TemplateError as exc:
            options.append(CannedOption(row.name, row.title, chosen, "", (), str(exc)))
            continue
        options.append(CannedOption(row.name, row.title, chosen, filled.text, filled.missing))
    return options


def customer_language(page: JourneyPage) -> str | None:
    """The handoff's language, else the customer's locale, as a base code (``sv``)."""
    handoff = page.handoff or {}
    raw = handoff.get("language") or (page.customer.locale if page.customer else None)
    if not raw:
        return None
    return str(raw).replace("_", "-").split("-")[0].lower() or None


def last_customer_message(page: JourneyPage) -> str | None:
    for entry in reversed(page.timeline):
        if (
            isinstance(entry, TimelineEntry)
            and entry.direction == "inbound"
            and entry.author_type == "customer"
            and entry.text.strip()
        ):
            return entry.text
    return None


def kb_suggestions(kb: KnowledgeBase, page: JourneyPage) -> list[KbMatch]:
    text = last_customer_message(page)
    if text is None:
        return []
    return kb.search(text, language=customer_language(page), top_k=KB_SUGGESTIONS)


def insert_text(match: KbMatch) -> str:
    """What one click puts into the reply box: the answer, then its help-centre link."""
    return f"{match.body}\n\n{match.url}" if match.url else match.body


@dataclass(frozen=True)
class NoteEntry:
    """An internal note, shaped like a timeline entry for _timeline.html."""

    message_id: uuid.UUID
    author_label: str
    text: str
    created_at: datetime
    is_note: bool = True
    is_event: bool = False
    direction: str = "internal"
    author_type: str = "agent"
    channel: str = "note"
    channel_kind: str = "internal"
    delivery_status: None = None
    delivery_error: None = None


async def notes_of(session: AsyncSession, journey_id: uuid.UUID) -> list[NoteEntry]:
    """The journey's notes, with those of journeys combined into it."""
    rows = (
        await session.execute(
            select(JourneyNote, Agent.name)
            .outerjoin(Agent, Agent.id == JourneyNote.author_agent_id)
            .where(
                or_(
                    JourneyNote.journey_id == journey_id,
                    JourneyNote.journey_id.in_(
                        select(Journey.id).where(Journey.combined_into_id == journey_id)
                    ),
                )
            )
            .order_by(JourneyNote.created_at, JourneyNote.id)
        )
    ).all()
    return [NoteEntry(n.id, name or "Former agent", n.text, n.created_at) for n, name in rows]


def with_notes(timeline: list[Any], notes: list[NoteEntry]) -> list[Any]:
    return sorted([*timeline, *notes], key=lambda e: e.created_at)


@dataclass(frozen=True)
class TransferTargets:
    agents: list[tuple[uuid.UUID, str]]
    """Active agents who are online (a transfer to anyone else is refused)."""
    teams: list[str]


async def transfer_targets(session: AsyncSession, user: ConsoleUser) -> TransferTargets:
    agents = (
        await session.execute(
            select(Agent.id, Agent.name)
            .where(Agent.active.is_(True), Agent.presence == "online", Agent.id != user.agent_id)
            .order_by(Agent.name)
        )
    ).all()
    teams = (await session.scalars(select(Team.name).order_by(Team.name))).all()
    return TransferTargets([(a, n) for a, n in agents], list(teams))


def template_payload(channel: Channel, name: str, values: list[str]) -> dict[str, Any]:
    """Both providers' shapes (as outreach sends them): Cloud API ``params`` in order,
    Twilio ``variables`` by number; the configured language when the channel has one."""
    payload: dict[str, Any] = {
        "name": name,
        "params": values,
        "variables": {str(i): v for i, v in enumerate(values, 1)},
    }
    configured = ((channel.settings or {}).get("templates") or {}).get(name)
    if isinstance(configured, dict) and configured.get("language"):
        payload["language"] = configured["language"]
    return payload
