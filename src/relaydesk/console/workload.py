"""Reads for the agent's own workload: presence, load against capacity, offers waiting.

Routing owns these tables (``agents.presence``, ``agent_loads``, ``routing_assignments``);
the console only reads them and answers through routing's actions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.agents.models import Agent
from relaydesk.console.queries import channels_of
from relaydesk.customers.models import Customer
from relaydesk.routing.models import AgentLoad, Assignment
from relaydesk.routing.queries import latest_decision

PRESENCES = ("online", "away", "offline")


@dataclass(frozen=True)
class Desk:
    """The header's view of the signed-in agent."""

    presence: str
    load: float
    """Sum of the weights of offered and active conversations (1.0 is full)."""
    conversations: int
    capacity: dict[str, int]

    @property
    def percent(self) -> int:
        return round(self.load * 100)


@dataclass(frozen=True)
class OfferRow:
    offer_id: uuid.UUID
    journey_id: uuid.UUID
    customer_name: str | None
    channels: list[str]
    channel_class: str
    expires_at: datetime | None
    seconds_left: int | None
    value: float | None
    currency: str | None
    reason: str | None
    explanation: str | None


async def desk(session: AsyncSession, agent_id: uuid.UUID) -> Desk:
    agent = await session.get(Agent, agent_id)
    load = await session.get(AgentLoad, agent_id)
    return Desk(
        presence=agent.presence if agent is not None else "offline",
        load=float(load.load) if load is not None else 0.0,
        conversations=load.active if load is not None else 0,
        capacity=dict(agent.capacity or {}) if agent is not None else {},
    )


async def offers_for(session: AsyncSession, agent_id: uuid.UUID, now: datetime) -> list[OfferRow]:
    """Pending offers to this agent that have not lapsed, soonest to expire first."""
    rows = (
        await session.execute(
            select(Assignment, Customer.name)
            .join(Customer, Customer.id == Assignment.customer_id)
            .where(Assignment.agent_id == agent_id, Assignment.status == "offered")
            .where((Assignment.expires_at.is_(None)) | (Assignment.expires_at > now))
            .order_by(Assignment.expires_at, Assignment.id)
        )
    ).all()
    channels = await channels_of(session, [offer.journey_id for offer, _ in rows])
    found: list[OfferRow] = []
    for offer, name in rows:
        decision = await latest_decision(session, offer.journey_id)
        mine = decision is not None and decision.agent_id == agent_id
        left = None
        if offer.expires_at is not None:
            left = max(0, int((offer.expires_at - now).total_seconds()))
        found.append(
            OfferRow(
                offer_id=offer.id,
                journey_id=offer.journey_id,
                customer_name=name,
                channels=channels.get(offer.journey_id, []),
                channel_class=offer.channel_class,
                expires_at=offer.expires_at,
                seconds_left=left,
                value=decision.value if decision is not None and mine else None,
                currency=decision.currency if decision is not None and mine else None,
                reason=decision.reason if decision is not None and mine else None,
                explanation=decision.explanation if decision is not None and mine else None,
            )
        )
    return found
