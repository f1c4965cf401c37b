"""Reads for outreach: its configuration and what a send needs to know about a customer."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.channels.models import Channel
from relaydesk.channels.registry import KINDS, UnknownChannelKind, adapter_class
from relaydesk.customers.models import Customer, Identity
from relaydesk.journeys.models import Conversation, Journey
from relaydesk.outreach.config import OutreachConfig
from relaydesk.outreach.daytime import customer_zone
from relaydesk.outreach.texts import OutreachTexts, language_of
from relaydesk.routing.models import RoutingDecision
from relaydesk.workspace.config import load_workspace_config
from relaydesk.workspace.models import WorkspaceSetting

CONFIG_KEY = "_outreach"
"""Workspace setting holding the ``outreach:`` section."""


async def load_config(session: AsyncSession) -> OutreachConfig:
    row = await session.get(WorkspaceSetting, CONFIG_KEY)
    return OutreachConfig.model_validate(row.value["value"]) if row else OutreachConfig()


@dataclass(frozen=True)
class Recipient:
    """Who we write to, in which language and local time."""

    customer_id: uuid.UUID
    language: str
    """A language we have texts for (customer's, else the workspace's, else English)."""
    zone: ZoneInfo


async def recipient(session: AsyncSession, customer_id: uuid.UUID) -> Recipient | None:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        return None
    workspace = await load_workspace_config(session)
    phones = (
        await session.scalars(
            select(Identity.value).where(
                Identity.customer_id == customer_id, Identity.kind == "phone"
            )
        )
    ).all()
    wanted = language_of(customer.locale, workspace.default_language)
    language = OutreachTexts.load().pick(wanted, workspace.default_language)
    zone = customer_zone(customer.timezone, customer.country, phones, workspace.timezone)
    return Recipient(customer_id, language, zone)


def writes(kind: str) -> bool:
    try:
        return adapter_class(kind).takes_written_replies
    except UnknownChannelKind:
        return False


async def latest_channel(
    session: AsyncSession, *, journey_id: uuid.UUID | None = None, customer_id: uuid.UUID
) -> Channel | None:
    """The written channel the customer used last (in the journey, else anywhere)."""
    query = (
        select(Channel)
        .join(Conversation, Conversation.channel_id == Channel.id)
        .where(Conversation.customer_id == customer_id, Channel.enabled.is_(True))
        .order_by(
            Conversation.last_inbound_at.desc().nulls_last(), Conversation.last_message_at.desc()
        )
    )
    if journey_id is not None:
        query = query.where(Conversation.journey_id == journey_id)
    for channel in (await session.scalars(query)).all():
        if writes(channel.kind):
            return channel
    return None


async def journey_intent(session: AsyncSession, journey: Journey) -> str | None:
    """The bot's handoff intent, else routing's last reading, else ``context.intent``."""
    handoff: dict[str, Any] = journey.handoff or {}
    if isinstance(handoff.get("intent"), str):
        return str(handoff["intent"])
    inputs = await session.scalar(
        select(RoutingDecision.inputs)
        .where(RoutingDecision.journey_id == journey.id)
        .order_by(RoutingDecision.created_at.desc())
        .limit(1)
    )
    if inputs and isinstance(inputs.get("intent"), str):
        return str(inputs["intent"])
    value = (journey.context or {}).get("intent")
    return value if isinstance(value, str) else None


def unknown_channel_keys(
    config: OutreachConfig, channel_names: Iterable[str]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Where the section names, by channel name or kind, a channel that is neither (its
    texts and templates would never be used, e.g. ``sms`` for ``twilio_sms``)."""
    known = set(channel_names) | set(KINDS)
    found: list[tuple[tuple[str | int, ...], str]] = []
    for key in config.updates.templates:
        if key not in known:
            found.append((("outreach", "updates", "templates", key), key))
    for name, template in config.notifications.templates.items():
        for key in template.channels:
            if key not in known:
                found.append(
                    (("outreach", "notifications", "templates", name, "channels", key), key)
                )
    return found


def channel_key_problem(key: str, channel_names: Iterable[str]) -> str:
    return (
        f"no channel named {key!r} and no channel kind {key!r} (channels: "
        f"{', '.join(sorted(channel_names)) or 'none'}; kinds: {', '.join(sorted(KINDS))})"
    )
