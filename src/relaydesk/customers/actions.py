"""Writes for the customers domain: resolve a sender, merge, profile, consent, orders."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bus import publish
from relaydesk.clock import as_utc
from relaydesk.customers.events import (
    CustomerCreated,
    CustomersMerged,
    CustomerUpdated,
    IdentityLinked,
    MergeSuggested,
    OrderRecorded,
)
from relaydesk.customers.identities import IdentityKey
from relaydesk.customers.models import (
    Consent,
    Customer,
    CustomerMerge,
    Identity,
    IdentityClaim,
    MergeSuggestion,
    Order,
)
from relaydesk.db import new_id

# Prebuilt: the ingest path creates customers and identities on most requests.
_INSERT_CUSTOMER = insert(cast(Table, Customer.__table__))
_INSERT_IDENTITY = insert(cast(Table, Identity.__table__))


@dataclass(frozen=True)
class SenderIdentities:
    """Who a message says it is from, already normalised."""

    trusted: Sequence[tuple[IdentityKey, str]]
    """(identity, assurance) pairs that link automatically."""
    claims: Sequence[IdentityKey] = ()
    """Identities the sender typed that nobody verified."""
    name: str | None = None
    channel: str | None = None


@dataclass
class Resolution:
    customer_id: uuid.UUID
    created: bool = False
    merged: list[uuid.UUID] = field(default_factory=list)


class CustomerNotFound(LookupError):
    pass


class IdentityTaken(ValueError):
    """An identity an operator tried to add belongs to another customer."""

    def __init__(self, kind: str, other: uuid.UUID) -> None:
        super().__init__(f"this {kind} belongs to customer {other}; merge the customers instead")
        self.kind = kind
        self.other = other


async def lock_customer(session: AsyncSession, customer_id: uuid.UUID) -> Customer:
    """Lock the customer row (PostgreSQL; SQLite writers are already serialised).

    Following ``merged_into_id`` after the lock means a concurrent merge is always seen.
    """
    while True:
        customer = (
            await session.execute(
                select(Customer)
                .where(Customer.id == customer_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        if customer is None:
            raise CustomerNotFound(str(customer_id))
        if customer.merged_into_id is None:
            return customer
        customer_id = customer.merged_into_id


_IDENTITIES = cast(Table, Identity.__table__)
_IDENTITY_OWNERS = select(
    _IDENTITIES.c.kind, _IDENTITIES.c.scope, _IDENTITIES.c.value, _IDENTITIES.c.customer_id
).where(tuple_(_IDENTITIES.c.kind, _IDENTITIES.c.scope, _IDENTITIES.c.value).in_(bindparam("keys")))
"""Built once (Core, an expanding parameter): every inbound batch runs it."""


async def identity_owners(
    session: AsyncSession, keys: Iterable[IdentityKey]
) -> dict[IdentityKey, uuid.UUID]:
    """The customer each known identity belongs to (unknown ones are absent)."""
    wanted = [(k.kind, k.scope, k.value) for k in keys]
    if not wanted:
        return {}
    rows = await session.execute(_IDENTITY_OWNERS, {"keys": wanted})
    return {IdentityKey(kind, scope, value): owner for kind, scope, value, owner in rows}


async def resolve_sender(
    session: AsyncSession,
    sender: SenderIdentities,
    *,
    owners: Mapping[IdentityKey, uuid.UUID] | None = None,
) -> Resolution:
    """Find (or create) the one customer the sender is, linking what a trusted party asserted.

    Trusted identities of two or more existing customers merge them into the oldest: a trusted
    party (the integration, the provider) said they are one person. Claims never merge; a claim
    matching another customer's identity becomes a merge suggestion for an agent.
    """
    if not sender.trusted:
        raise ValueError("a sender needs at least one trusted identity")
    now = clock.now()
    keys = [key for key, _ in sender.trusted]
    if owners is None:
        owners = await identity_owners(session, keys)
    # Owners looked up earlier in the transaction may since have been merged away:
    # lock_customer follows the merge.
    owners = {key: owners[key] for key in keys if key in owners}
    owner_ids = sorted(set(owners.values()))
    resolution: Resolution
    if not owner_ids:
        (customer_id,) = await create_customers(session, [sender])
        owners.update((key, customer_id) for key, _ in sender.trusted)
        resolution = Resolution(customer_id, created=True)
    else:
        locked = [await lock_customer(session, owner) for owner in owner_ids]
        survivors = sorted({c.id: c for c in locked}.values(), key=lambda c: (c.created_at, c.id))
        customer = survivors[0]
        resolution = Resolution(customer.id)
        for other in survivors[1:]:
            await merge_customers(
                session,
                survivor_id=customer.id,
                merged_id=other.id,
                actor="system",
                reason=f"a message on {sender.channel or 'a trusted channel'} carried "
                "trusted identities of both customers",
            )
            resolution.merged.append(other.id)
        if customer.name is None and sender.name:
            customer.name = sender.name
    await _link_missing(session, resolution.customer_id, sender, owners, now)
    await _record_claims(session, resolution.customer_id, sender, now)
    return resolution


async def create_customers(
    session: AsyncSession, senders: Sequence[SenderIdentities]
) -> list[uuid.UUID]:
    """One new customer per sender, with its trusted identities, in one insert per table.

    The caller has checked that none of these identities is known and that no two senders
    share one (the unique key on identities stops a race with another writer).
    """
    now = clock.now()
    ids = [new_id() for _ in senders]
    await session.execute(
        _INSERT_CUSTOMER,
        [
            {
                "id": customer_id,
                "name": sender.name,
                "lifetime_value": Decimal(0),
                "attributes": {},
                "created_at": now,
                "updated_at": now,
            }
            for customer_id, sender in zip(ids, senders, strict=True)
        ],
    )
    rows = [
        _identity_row(customer_id, key, assurance, sender.channel, now)
        for customer_id, sender in zip(ids, senders, strict=True)
        for key, assurance in _distinct(sender.trusted)
    ]
    if rows:
        await session.execute(_INSERT_IDENTITY, rows)
    for customer_id, sender in zip(ids, senders, strict=True):
        await publish(session, CustomerCreated(customer_id=customer_id, channel=sender.channel))
        for key, assurance in _distinct(sender.trusted):
            await publish(
                session,
                IdentityLinked(
                    customer_id=customer_id,
                    kind=key.kind,
                    assurance=assurance,
                    channel=sender.channel,
                ),
            )
    return ids


def _distinct(
    trusted: Sequence[tuple[IdentityKey, str]],
) -> list[tuple[IdentityKey, str]]:
    """Each identity once (the first assurance given for it), as ``_link_missing`` links."""
    seen: set[IdentityKey] = set()
    distinct = []
    for key, assurance in trusted:
        if key not in seen:
            seen.add(key)
            distinct.append((key, assurance))
    return distinct


def _identity_row(
    customer_id: uuid.UUID, key: IdentityKey, assurance: str, channel: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "customer_id": customer_id,
        "kind": key.kind,
        "scope": key.scope,
        "value": key.value,
        "assurance": assurance,
        "source_channel": channel,
        "created_at": now,
    }


async def _link_missing(
    session: AsyncSession,
    customer_id: uuid.UUID,
    sender: SenderIdentities,
    owners: dict[IdentityKey, uuid.UUID],
    now: datetime,
) -> None:
    rows: list[dict[str, Any]] = []
    for key, assurance in sender.trusted:
        if key in owners:
            continue
        rows.append(_identity_row(customer_id, key, assurance, sender.channel, now))
        owners[key] = customer_id
    if rows:
        await session.execute(_INSERT_IDENTITY, rows)
    for row in rows:
        await publish(
            session,
            IdentityLinked(
                customer_id=customer_id,
                kind=row["kind"],
                assurance=row["assurance"],
                channel=sender.channel,
            ),
        )


async def _record_claims(
    session: AsyncSession, customer_id: uuid.UUID, sender: SenderIdentities, now: datetime
) -> None:
    if not sender.claims:
        return
    owners = await identity_owners(session, sender.claims)
    existing = set(
        (
            await session.execute(
                select(IdentityClaim.kind, IdentityClaim.scope, IdentityClaim.value).where(
                    IdentityClaim.customer_id == customer_id
                )
            )
        ).all()
    )
    for key in sender.claims:
        owner = owners.get(key)
        if owner == customer_id:
            continue  # already theirs, trusted
        if (key.kind, key.scope, key.value) not in existing:
            session.add(
                IdentityClaim(
                    id=new_id(),
                    customer_id=customer_id,
                    kind=key.kind,
                    scope=key.scope,
                    value=key.value,
                    source_channel=sender.channel,
                    created_at=now,
                )
            )
        if owner is not None:
            await suggest_merge(
                session, customer_id, owner, key, reason="claimed an identity of another customer"
            )
    await session.flush()


async def suggest_merge(
    session: AsyncSession,
    customer_id: uuid.UUID,
    other_id: uuid.UUID,
    key: IdentityKey,
    *,
    reason: str,
) -> None:
    found = await session.scalar(
        select(MergeSuggestion.id).where(
            MergeSuggestion.customer_id == customer_id,
            MergeSuggestion.other_customer_id == other_id,
            MergeSuggestion.kind == key.kind,
            MergeSuggestion.value == key.value,
        )
    )
    if found is not None:
        return
    suggestion = MergeSuggestion(
        id=new_id(),
        customer_id=customer_id,
        other_customer_id=other_id,
        kind=key.kind,
        value=key.value,
        reason=reason,
        status="open",
        created_at=clock.now(),
    )
    session.add(suggestion)
    await session.flush()
    await publish(
        session,
        MergeSuggested(
            customer_id=customer_id,
            suggestion_id=suggestion.id,
            other_customer_id=other_id,
            kind=key.kind,
            reason=reason,
        ),
    )


async def merge_customers(
    session: AsyncSession,
    *,
    survivor_id: uuid.UUID,
    merged_id: uuid.UUID,
    actor: str,
    reason: str,
) -> CustomerMerge:
    """Move everything of ``merged_id`` to ``survivor_id`` and leave a redirect behind."""
    from relaydesk.journeys.actions.lifecycle import combine_active_journeys
    from relaydesk.journeys.models import Conversation, Journey, Message
    from relaydesk.outreach.models import Notification, Survey

    if survivor_id == merged_id:
        raise ValueError("a customer cannot be merged into itself")
    first, second = sorted([survivor_id, merged_id])
    locked = {
        c.id: c for c in [await lock_customer(session, first), await lock_customer(session, second)]
    }
    if len(locked) != 2 or survivor_id not in locked or merged_id not in locked:
        raise ValueError("one of these customers was already merged into the other")
    survivor, merged = locked[survivor_id], locked[merged_id]
    now = clock.now()
    moved: dict[str, int] = {}

    async def move(model: Any, column: Any, label: str) -> None:
        result = await session.execute(
            update(model).where(column == merged_id).values({column.key: survivor_id})
        )
        moved[label] = int(getattr(result, "rowcount", 0) or 0)

    await move(Identity, Identity.customer_id, "identities")
    survivor_claims = select(IdentityClaim.kind, IdentityClaim.scope, IdentityClaim.value).where(
        IdentityClaim.customer_id == survivor_id
    )
    await session.execute(
        delete(IdentityClaim).where(
            IdentityClaim.customer_id == merged_id,
            tuple_(IdentityClaim.kind, IdentityClaim.scope, IdentityClaim.value).in_(
                survivor_claims
            ),
        )
    )
    await move(IdentityClaim, IdentityClaim.customer_id, "claims")
    await move(Journey, Journey.customer_id, "journeys")
    await move(Conversation, Conversation.customer_id, "conversations")
    await move(Message, Message.customer_id, "messages")
    await move(Order, Order.customer_id, "orders")
    # Outreach follows the person: a scheduled notification goes to the survivor's channels,
    # a survey waiting for an answer is answerable, and its history counts for the cooldown.
    await move(Notification, Notification.customer_id, "notifications")
    await move(Survey, Survey.customer_id, "surveys")
    survivor_channels = select(Consent.channel).where(Consent.customer_id == survivor_id)
    await session.execute(
        delete(Consent).where(
            Consent.customer_id == merged_id, Consent.channel.in_(survivor_channels)
        )
    )
    await move(Consent, Consent.customer_id, "consents")
    await _repoint_suggestions(session, survivor_id, merged_id, actor, now)
    await session.execute(
        update(Customer)
        .where(Customer.merged_into_id == merged_id)
        .values(merged_into_id=survivor_id)
    )
    for attr in ("name", "locale", "timezone", "country", "tier", "annual_value"):
        if getattr(survivor, attr) is None and getattr(merged, attr) is not None:
            setattr(survivor, attr, getattr(merged, attr))
    survivor.lifetime_value = (survivor.lifetime_value or Decimal(0)) + (
        merged.lifetime_value or Decimal(0)
    )
    survivor.attributes = {**(merged.attributes or {}), **(survivor.attributes or {})}
    survivor.updated_at = now
    merged.merged_into_id = survivor_id
    merged.updated_at = now
    await session.flush()
    moved["journeys_combined"] = await combine_active_journeys(session, survivor_id, actor=actor)
    record = CustomerMerge(
        id=new_id(),
        survivor_id=survivor_id,
        merged_id=merged_id,
        actor=actor,
        reason=reason,
        moved=moved,
        created_at=now,
    )
    session.add(record)
    await session.flush()
    await publish(
        session,
        CustomersMerged(customer_id=survivor_id, merged_id=merged_id, reason=reason, moved=moved),
        actor=actor,
    )
    return record


async def _repoint_suggestions(
    session: AsyncSession,
    survivor_id: uuid.UUID,
    merged_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> None:
    """Open suggestions naming the merged customer now name the survivor; one that would name
    the survivor twice is settled by this merge, and a duplicate is closed."""
    rows = (
        await session.scalars(
            select(MergeSuggestion).where(
                or_(
                    MergeSuggestion.customer_id == merged_id,
                    MergeSuggestion.other_customer_id == merged_id,
                ),
                MergeSuggestion.status == "open",
            )
        )
    ).all()
    for row in rows:
        customer = survivor_id if row.customer_id == merged_id else row.customer_id
        other = survivor_id if row.other_customer_id == merged_id else row.other_customer_id
        duplicate = await session.scalar(
            select(MergeSuggestion.id).where(
                MergeSuggestion.customer_id == customer,
                MergeSuggestion.other_customer_id == other,
                MergeSuggestion.kind == row.kind,
                MergeSuggestion.value == row.value,
            )
        )
        if customer == other or duplicate is not None:
            row.status, row.resolved_at, row.resolved_by = "merged", now, actor
        else:
            row.customer_id, row.other_customer_id = customer, other
    await session.flush()


async def update_customer(
    session: AsyncSession,
    customer_id: uuid.UUID,
    changes: dict[str, Any],
    *,
    identities: Sequence[IdentityKey] = (),
    consent: Mapping[str, str] | None = None,
    actor: str,
) -> Customer:
    """Apply a profile patch; ``attributes`` merge key by key (``None`` removes a key)."""
    customer = await lock_customer(session, customer_id)
    now = clock.now()
    changed: list[str] = []
    for field_name, value in changes.items():
        if field_name == "attributes":
            merged = dict(customer.attributes or {})
            for attr_key, attr_value in (value or {}).items():
                if attr_value is None:
                    merged.pop(attr_key, None)
                else:
                    merged[attr_key] = attr_value
            customer.attributes = merged
        else:
            setattr(customer, field_name, value)
        changed.append(field_name)
    owners = await identity_owners(session, identities)
    for key in identities:
        owner = owners.get(key)
        if owner is not None and owner != customer.id:
            raise IdentityTaken(key.kind, owner)
    sender = SenderIdentities(trusted=[(key, "agent") for key in identities], channel=None)
    await _link_missing(session, customer.id, sender, owners, now)
    changed.extend(key.kind for key in identities)
    for channel, status in (consent or {}).items():
        await set_consent(session, customer.id, channel, status, source=actor)
        changed.append(f"consent.{channel}")
    customer.updated_at = now
    await session.flush()
    await publish(session, CustomerUpdated(customer_id=customer.id, fields=changed), actor=actor)
    return customer


async def set_consent(
    session: AsyncSession, customer_id: uuid.UUID, channel: str, status: str, *, source: str
) -> None:
    if status not in ("granted", "revoked"):
        raise ValueError("consent status must be granted or revoked")
    row = await session.scalar(
        select(Consent).where(Consent.customer_id == customer_id, Consent.channel == channel)
    )
    now = clock.now()
    if row is None:
        session.add(
            Consent(
                id=new_id(),
                customer_id=customer_id,
                channel=channel,
                status=status,
                source=source,
                updated_at=now,
            )
        )
    else:
        row.status, row.source, row.updated_at = status, source, now
    await session.flush()


@dataclass(frozen=True)
class OrderInput:
    external_id: str
    items: list[dict[str, Any]]
    amount: Decimal
    currency: str
    ordered_at: datetime


class OrderBelongsToAnother(ValueError):
    pass


async def record_order(
    session: AsyncSession, customer_id: uuid.UUID, order: OrderInput, *, actor: str
) -> tuple[Order, bool]:
    """Create or update an order by its id (idempotent); returns (order, created)."""
    customer = await lock_customer(session, customer_id)
    now = clock.now()
    row = await session.scalar(select(Order).where(Order.external_id == order.external_id))
    created = row is None
    if row is None:
        row = Order(
            id=new_id(), customer_id=customer.id, external_id=order.external_id, created_at=now
        )
        session.add(row)
    elif row.customer_id != customer.id:
        raise OrderBelongsToAnother(f"order {order.external_id} belongs to another customer")
    row.items = order.items
    row.amount = order.amount
    row.currency = order.currency
    row.ordered_at = as_utc(order.ordered_at)
    row.updated_at = now
    await session.flush()
    await publish(
        session,
        OrderRecorded(customer_id=customer.id, order_id=row.id, created=created),
        actor=actor,
    )
    return row, created
