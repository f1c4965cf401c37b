"""Demo data: customers with orders and history on several channels, and a fresh token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.agents.actions import create_token, revoke_token, set_password
from relaydesk.agents.models import Agent
from relaydesk.agents.passwords import hash_password
from relaydesk.channels.base import InboundMessage, Sender
from relaydesk.channels.models import Channel
from relaydesk.console.actions import revoke_agent_sessions
from relaydesk.customers.actions import OrderInput, record_order, update_customer
from relaydesk.customers.identities import Assurance, identity_key
from relaydesk.customers.models import Customer
from relaydesk.db import Database
from relaydesk.journeys.actions import ingest_inbound, resolve_journey
from relaydesk.settings import Settings
from relaydesk.workspace.config import load_workspace_config

DEMO_TOKEN_NAME = "demo"  # noqa: S105 (a token name, not a secret)
DEMO_AGENT_EMAIL = "ada@northwind.example"
"""The demo workspace's supervisor; gets a fresh random console password on every demo run."""


@dataclass(frozen=True)
class DemoMessage:
    channel: str
    days_ago: int
    text: str
    resolve: bool = False


@dataclass(frozen=True)
class DemoOrder:
    id: str
    item: str
    amount: Decimal
    days_ago: int


@dataclass(frozen=True)
class PastJourney:
    """A journey the customer had weeks ago, resolved with ``outcome`` (the customer panel's
    *Past journeys*). Seeded on the clock of that day, so it stays a journey of its own."""

    channel: str
    days_ago: int
    text: str
    outcome: str


@dataclass(frozen=True)
class DemoCustomer:
    email: str
    phone: str
    name: str
    profile: dict[str, Any]
    orders: tuple[DemoOrder, ...]
    history: tuple[DemoMessage, ...]
    past: tuple[PastJourney, ...] = ()


CUSTOMERS = (
    DemoCustomer(
        email="maja.lindqvist@example.se",
        phone="+46701234567",
        name="Maja Lindqvist",
        profile={
            "locale": "sv-SE",
            "timezone": "Europe/Stockholm",
            "country": "SE",
            "tier": "gold",
            "lifetime_value": Decimal("2480.00"),
        },
        orders=(
            DemoOrder("1042", "Trail running shoes", Decimal("149.00"), 12),
            DemoOrder("0977", "Rain jacket", Decimal("219.00"), 80),
        ),
        history=(
            DemoMessage("website", 30, "Hi, do you ship to Gotland?", resolve=True),
            DemoMessage("mobile-app", 2, "My order 1042 has not arrived yet, it's been 10 days."),
        ),
        past=(
            PastJourney(
                "website", 81, "Is the rain jacket waterproof enough for hiking?", "purchase"
            ),
        ),
    ),
    DemoCustomer(
        email="budi.santoso@example.id",
        phone="+6281234567890",
        name="Budi Santoso",
        profile={
            "locale": "id-ID",
            "timezone": "Asia/Jakarta",
            "country": "ID",
            "tier": "silver",
            "lifetime_value": Decimal("310.00"),
        },
        orders=(DemoOrder("1101", "Yoga mat", Decimal("39.90"), 5),),
        history=(DemoMessage("mobile-app", 1, "Halo, bagaimana cara mengembalikan barang?"),),
        past=(PastJourney("website", 40, "Apakah ada ukuran XL untuk jaket ini?", "resolved"),),
    ),
    DemoCustomer(
        email="anna.kowalska@example.pl",
        phone="+48601234567",
        name="Anna Kowalska",
        profile={
            "locale": "pl-PL",
            "timezone": "Europe/Warsaw",
            "country": "PL",
            "tier": "standard",
            "lifetime_value": Decimal("89.00"),
        },
        orders=(DemoOrder("1120", "Water bottle", Decimal("19.00"), 3),),
        history=(DemoMessage("website", 4, "Chcę zmienić adres dostawy dla zamówienia 1120."),),
    ),
)


def _sender(person: DemoCustomer) -> Sender:
    return Sender(
        identities=(
            (identity_key("email", person.email), Assurance.INTEGRATION.value),
            (identity_key("phone", person.phone), Assurance.INTEGRATION.value),
        ),
        name=person.name,
    )


async def _seed_past_journeys(session: AsyncSession, channels: dict[str, Channel]) -> None:
    """Each customer's resolved journeys of weeks ago, each on the clock of its own day (a
    journey resolved *now* would be reopened by the customer's next message)."""
    config = await load_workspace_config(session)
    today = clock.now()
    for person in CUSTOMERS:
        for index, entry in enumerate(person.past):
            channel = channels.get(entry.channel)
            if channel is None:
                continue
            then = today - timedelta(days=entry.days_ago)
            with clock.use_clock(clock.ManualClock(then)):
                result = await ingest_inbound(
                    session,
                    channel,
                    InboundMessage(
                        channel=channel.name,
                        external_id=f"demo-past-{person.email}-{index}",
                        sender=_sender(person),
                        text=entry.text,
                        sent_at=then,
                    ),
                    journey_window=config.journey_window,
                )
            with clock.use_clock(clock.ManualClock(then + timedelta(hours=1))):
                await resolve_journey(
                    session, result.journey_id, outcome=entry.outcome, actor="demo"
                )


async def _seed_customers(session: AsyncSession, *, past_journeys: bool = False) -> None:
    """Seed once: an existing customer base is never touched. ``past_journeys`` (the demo)
    adds each customer's resolved journeys of weeks ago first."""
    if (await session.scalar(select(func.count()).select_from(Customer))) or 0:
        return
    channels = {c.name: c for c in (await session.scalars(select(Channel))).all()}
    if past_journeys:
        await _seed_past_journeys(session, channels)
    config = await load_workspace_config(session)
    now = clock.now()
    for person in CUSTOMERS:
        sender = _sender(person)
        customer_id = None
        for index, entry in enumerate(person.history):
            channel = channels.get(entry.channel)
            if channel is None:
                continue
            result = await ingest_inbound(
                session,
                channel,
                InboundMessage(
                    channel=channel.name,
                    external_id=f"demo-{person.email}-{index}",
                    sender=sender,
                    text=entry.text,
                    sent_at=now - timedelta(days=entry.days_ago),
                ),
                journey_window=config.journey_window,
            )
            customer_id = result.customer_id
            if entry.resolve:
                await resolve_journey(session, result.journey_id, outcome="resolved", actor="demo")
        if customer_id is None:
            continue
        await update_customer(session, customer_id, dict(person.profile), actor="demo")
        for order in person.orders:
            await record_order(
                session,
                customer_id,
                OrderInput(
                    order.id,
                    [{"name": order.item, "quantity": 1}],
                    order.amount,
                    config.currency,
                    now - timedelta(days=order.days_ago),
                ),
                actor="demo",
            )


async def seed_demo(settings: Settings) -> str:
    """Seed sample customers once; return a new demo token (the previous one is revoked)."""
    db = Database.connect(settings.database_url, pool_size=1)
    try:
        await db.transaction(lambda s: _seed_customers(s, past_journeys=True))

        async def rotate(session: AsyncSession) -> str:
            await revoke_token(session, DEMO_TOKEN_NAME)
            return await create_token(session, DEMO_TOKEN_NAME)

        return await db.transaction(rotate)
    finally:
        await db.dispose()


async def _demo_agent(session: AsyncSession) -> Agent | None:
    """The demo workspace's supervisor, and nobody else: `relaydesk demo` pointed at a real
    workspace must never reset (and print) a real person's password."""
    agent: Agent | None = await session.scalar(
        select(Agent).where(Agent.email == DEMO_AGENT_EMAIL, Agent.active.is_(True))
    )
    return agent


async def demo_sign_in(settings: Settings) -> tuple[str, str] | None:
    """Give the demo agent a new random password; return (email, password) to print once.

    Random per run (never a fixed, guessable demo password): only the terminal that started
    the demo knows it, and the previous run's password stops working.
    """
    password = secrets.token_urlsafe(12)
    password_hash = hash_password(password)
    db = Database.connect(settings.database_url, pool_size=1)
    try:

        async def work(session: AsyncSession) -> str | None:
            agent = await _demo_agent(session)
            if agent is None:
                return None
            await set_password(session, agent.email, password_hash)
            await revoke_agent_sessions(session, agent.id)  # the old password's sessions end
            return agent.email

        email = await db.transaction(work)
    finally:
        await db.dispose()
    return (email, password) if email is not None else None
