"""Invariants of the ingest path, checked by reading the whole database after a test run.

Rows are loaded through the ORM (so ids are ``uuid.UUID`` on SQLite and PostgreSQL alike)
and checked in Python; the tables are small in tests.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.bus import Event, OutboxEntry
from relaydesk.channels.models import Channel
from relaydesk.customers.models import (
    Consent,
    Customer,
    CustomerMerge,
    Identity,
    IdentityClaim,
    MergeSuggestion,
    Order,
)
from relaydesk.hub import Hub
from relaydesk.journeys.models import Conversation, Journey, Message

# Everything ingest writes, children first; the workspace (channels, agents, tokens) stays.
DOMAIN_TABLES = (
    Message,
    Conversation,
    Journey,
    MergeSuggestion,
    CustomerMerge,
    IdentityClaim,
    Identity,
    Consent,
    Order,
    OutboxEntry,
    Event,
)


async def reset_domain_data(hub: Hub) -> None:
    """Delete every customer, journey, message and event, keeping the workspace and tokens."""

    async def wipe(session: AsyncSession) -> None:
        for model in DOMAIN_TABLES:
            await session.execute(delete(model))
        await session.execute(update(Customer).values(merged_into_id=None))
        await session.execute(delete(Customer))
        await session.execute(update(Channel).values(last_inbound_at=None))

    await hub.db.transaction(wipe)


@dataclass(frozen=True)
class IdentityRow:
    kind: str
    scope: str
    value: str
    customer_id: uuid.UUID


@dataclass(frozen=True)
class MessageRow:
    id: uuid.UUID
    channel: str
    external_id: str | None
    direction: str
    conversation_id: uuid.UUID
    journey_id: uuid.UUID
    customer_id: uuid.UUID


@dataclass(frozen=True)
class ConversationRow:
    id: uuid.UUID
    journey_id: uuid.UUID
    customer_id: uuid.UUID
    channel: str
    thread_key: str


@dataclass(frozen=True)
class SuggestionRow:
    customer_id: uuid.UUID
    other_customer_id: uuid.UUID
    kind: str
    value: str
    status: str


@dataclass
class Snapshot:
    """The whole ingest state of the database, as plain rows."""

    customers: dict[uuid.UUID, uuid.UUID | None]
    """customer id -> merged_into_id"""
    identities: list[IdentityRow]
    claims: list[IdentityRow]
    journeys: dict[uuid.UUID, uuid.UUID]
    """live journey id -> customer id (tombstones of combined journeys are in ``combined``)"""
    combined: dict[uuid.UUID, uuid.UUID]
    """combined journey id -> the journey it was folded into"""
    """journey id -> customer id"""
    conversations: dict[uuid.UUID, ConversationRow]
    messages: list[MessageRow]
    suggestions: list[SuggestionRow]
    received_events: list[str]
    """``message_id`` of every ``message.received`` event"""
    owned_elsewhere: dict[str, list[uuid.UUID]] = field(default_factory=dict)
    """Other tables' customer ids (orders, consents), by table."""

    @property
    def live_customers(self) -> set[uuid.UUID]:
        return {c for c, merged_into in self.customers.items() if merged_into is None}

    @property
    def merged_customers(self) -> set[uuid.UUID]:
        return {c for c, merged_into in self.customers.items() if merged_into is not None}

    def current(self, customer_id: uuid.UUID) -> uuid.UUID:
        """Follow merge redirects to the live customer."""
        seen: set[uuid.UUID] = set()
        while (merged_into := self.customers[customer_id]) is not None:
            assert customer_id not in seen, f"merge redirect cycle through {customer_id}"
            seen.add(customer_id)
            customer_id = merged_into
        return customer_id

    def inbound(self) -> list[MessageRow]:
        return [m for m in self.messages if m.direction == "inbound"]


async def snapshot(hub: Hub) -> Snapshot:
    async with hub.db.read() as session:
        channels = dict((await session.execute(select(Channel.id, Channel.name))).all())
        customers = dict(
            (await session.execute(select(Customer.id, Customer.merged_into_id))).all()
        )
        identities = [
            IdentityRow(*row)
            for row in await session.execute(
                select(Identity.kind, Identity.scope, Identity.value, Identity.customer_id)
            )
        ]
        claims = [
            IdentityRow(*row)
            for row in await session.execute(
                select(
                    IdentityClaim.kind,
                    IdentityClaim.scope,
                    IdentityClaim.value,
                    IdentityClaim.customer_id,
                )
            )
        ]
        journey_rows = (
            await session.execute(select(Journey.id, Journey.customer_id, Journey.combined_into_id))
        ).all()
        journeys = {j: c for j, c, into in journey_rows if into is None}
        combined = {j: into for j, _c, into in journey_rows if into is not None}
        conversations = {
            row.id: ConversationRow(
                row.id, row.journey_id, row.customer_id, channels[row.channel_id], row.thread_key
            )
            for row in await session.execute(
                select(
                    Conversation.id,
                    Conversation.journey_id,
                    Conversation.customer_id,
                    Conversation.channel_id,
                    Conversation.thread_key,
                )
            )
        }
        messages = [
            MessageRow(
                row.id,
                channels[row.channel_id],
                row.external_id,
                row.direction,
                row.conversation_id,
                row.journey_id,
                row.customer_id,
            )
            for row in await session.execute(
                select(
                    Message.id,
                    Message.channel_id,
                    Message.external_id,
                    Message.direction,
                    Message.conversation_id,
                    Message.journey_id,
                    Message.customer_id,
                )
            )
        ]
        suggestions = [
            SuggestionRow(*row)
            for row in await session.execute(
                select(
                    MergeSuggestion.customer_id,
                    MergeSuggestion.other_customer_id,
                    MergeSuggestion.kind,
                    MergeSuggestion.value,
                    MergeSuggestion.status,
                )
            )
        ]
        received = [
            str(payload.get("message_id"))
            for payload in await session.scalars(
                select(Event.payload).where(Event.name == "message.received")
            )
        ]
        orders = list(await session.scalars(select(Order.customer_id)))
        consents = list(await session.scalars(select(Consent.customer_id)))
    return Snapshot(
        customers=customers,
        identities=identities,
        claims=claims,
        journeys=journeys,
        combined=combined,
        conversations=conversations,
        messages=messages,
        suggestions=suggestions,
        received_events=received,
        owned_elsewhere={"orders": orders, "consents": consents},
    )


def violations(state: Snapshot) -> list[str]:
    """Every broken ingest invariant, as readable sentences (empty when all hold)."""
    problems: list[str] = []
    live = state.live_customers

    # Merge redirects point straight at a live customer (merges re-point older redirects).
    for customer, merged_into in state.customers.items():
        if merged_into is None:
            continue
        if merged_into == customer:
            problems.append(f"customer {customer} is merged into itself")
        elif merged_into not in state.customers:
            problems.append(f"customer {customer} is merged into missing {merged_into}")
        elif merged_into not in live:
            problems.append(
                f"customer {customer} redirects to {merged_into}, itself merged away "
                f"(a redirect chain)"
            )

    # Each identity (kind, scope, value) exists once and belongs to one live customer.
    keys = Counter((i.kind, i.scope, i.value) for i in state.identities)
    problems += [f"identity {key} stored {n} times" for key, n in keys.items() if n > 1]
    for identity in state.identities:
        if identity.customer_id not in live:
            problems.append(
                f"identity {identity.kind}:{identity.value} belongs to "
                f"{'merged-away' if identity.customer_id in state.customers else 'missing'} "
                f"customer {identity.customer_id}"
            )
    # A customer exists only because a message carried a trusted identity.
    holders = {i.customer_id for i in state.identities}
    for customer in live - holders:
        problems.append(f"live customer {customer} has no identity")

    for claim in state.claims:
        if claim.customer_id not in live:
            problems.append(
                f"claim {claim.kind}:{claim.value} held by non-live {claim.customer_id}"
            )
    for journey, customer in state.journeys.items():
        if customer not in live:
            problems.append(f"journey {journey} belongs to non-live customer {customer}")
    for journey, into in state.combined.items():
        if into not in state.journeys:
            problems.append(f"combined journey {journey} does not point at a live journey")
    for table, owners in state.owned_elsewhere.items():
        problems += [f"{table} row belongs to non-live {c}" for c in owners if c not in live]

    # Conversations: one journey each, of their own customer; one per (channel, thread).
    customers_per_journey: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    threads: Counter[tuple[uuid.UUID, str, str]] = Counter()
    for conversation in state.conversations.values():
        customers_per_journey[conversation.journey_id].add(conversation.customer_id)
        threads[(conversation.journey_id, conversation.channel, conversation.thread_key)] += 1
        owner = state.journeys.get(conversation.journey_id)
        if owner is None:
            problems.append(f"conversation {conversation.id} has no journey")
        elif owner != conversation.customer_id:
            problems.append(
                f"conversation {conversation.id} is of customer {conversation.customer_id} "
                f"but its journey {conversation.journey_id} is of {owner}"
            )
        if conversation.customer_id not in live:
            problems.append(f"conversation {conversation.id} belongs to non-live customer")
    for journey, customers in customers_per_journey.items():
        if len(customers) > 1:
            problems.append(f"journey {journey} holds conversations of {len(customers)} customers")
    for (journey, channel, thread), n in threads.items():
        if n > 1:
            problems.append(f"journey {journey} has {n} conversations on {channel}/{thread!r}")

    # Messages agree with their conversation; (channel, external id) is stored once.
    for message in state.messages:
        conversation = state.conversations.get(message.conversation_id)
        if conversation is None:
            problems.append(f"message {message.id} has no conversation")
            continue
        if message.customer_id != conversation.customer_id:
            problems.append(
                f"message {message.id} is of customer {message.customer_id}, "
                f"its conversation of {conversation.customer_id}"
            )
        if message.journey_id != conversation.journey_id:
            problems.append(
                f"message {message.id} is in journey {message.journey_id}, "
                f"its conversation in {conversation.journey_id}"
            )
        if message.channel != conversation.channel:
            problems.append(f"message {message.id} is on {message.channel}, not its conversation's")
        if message.customer_id not in live:
            problems.append(f"message {message.id} belongs to non-live {message.customer_id}")
    external = Counter((m.channel, m.external_id) for m in state.messages if m.external_id)
    problems += [f"message {key} stored {n} times" for key, n in external.items() if n > 1]

    # One message.received event per inbound message, none for rolled-back attempts.
    inbound_ids = Counter(str(m.id) for m in state.inbound())
    events = Counter(state.received_events)
    if events != inbound_ids:
        problems.append(
            f"message.received events {dict(events - inbound_ids) or '-'} extra, "
            f"{dict(inbound_ids - events) or '-'} missing"
        )

    # A merged-away customer keeps nothing.
    for merged in state.merged_customers:
        left = {
            "identities": sum(i.customer_id == merged for i in state.identities),
            "claims": sum(c.customer_id == merged for c in state.claims),
            "journeys": sum(c == merged for c in state.journeys.values()),
            "conversations": sum(c.customer_id == merged for c in state.conversations.values()),
            "messages": sum(m.customer_id == merged for m in state.messages),
        }
        left = {k: n for k, n in left.items() if n}
        if left:
            problems.append(f"merged-away customer {merged} still has {left}")
    return problems


async def assert_ingest_invariants(hub: Hub) -> Snapshot:
    state = await snapshot(hub)
    problems = violations(state)
    assert not problems, "ingest invariants broken:\n  " + "\n  ".join(problems)
    return state
