"""Reads for customers (shared by the API and the console)."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.customers.identities import IdentityKey
from relaydesk.customers.models import (
    Consent,
    Customer,
    Identity,
    IdentityClaim,
    MergeSuggestion,
    Order,
)
from relaydesk.customers.schemas import (
    ConsentOut,
    CustomerOut,
    IdentityOut,
    MergeSuggestionOut,
    OrderOut,
)

RECENT_ORDERS = 20


async def current_customer_id(session: AsyncSession, customer_id: uuid.UUID) -> uuid.UUID | None:
    """Follow merge redirects to the customer that now holds ``customer_id``'s history."""
    seen: set[uuid.UUID] = set()
    while customer_id not in seen:
        seen.add(customer_id)
        merged_into = (
            await session.execute(select(Customer.merged_into_id).where(Customer.id == customer_id))
        ).first()
        if merged_into is None:
            return None
        if merged_into[0] is None:
            return customer_id
        customer_id = merged_into[0]
    return None


async def customer_view(session: AsyncSession, customer_id: uuid.UUID) -> CustomerOut | None:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        return None
    identities = (
        await session.scalars(
            select(Identity)
            .where(Identity.customer_id == customer_id)
            .order_by(Identity.created_at, Identity.id)
        )
    ).all()
    claims = (
        await session.scalars(
            select(IdentityClaim)
            .where(IdentityClaim.customer_id == customer_id)
            .order_by(IdentityClaim.created_at)
        )
    ).all()
    consents = (
        await session.scalars(select(Consent).where(Consent.customer_id == customer_id))
    ).all()
    suggestions = (
        await session.scalars(
            select(MergeSuggestion)
            .where(
                or_(
                    MergeSuggestion.customer_id == customer_id,
                    MergeSuggestion.other_customer_id == customer_id,
                ),
                MergeSuggestion.status == "open",
            )
            .order_by(MergeSuggestion.created_at)
        )
    ).all()
    orders = (
        await session.scalars(
            select(Order)
            .where(Order.customer_id == customer_id)
            .order_by(Order.ordered_at.desc())
            .limit(RECENT_ORDERS)
        )
    ).all()

    def first(kind: str) -> str | None:
        return next((i.value for i in identities if i.kind == kind), None)

    return CustomerOut(
        id=customer.id,
        name=customer.name,
        email=first("email"),
        phone=first("phone"),
        locale=customer.locale,
        timezone=customer.timezone,
        country=customer.country,
        lifetime_value=customer.lifetime_value,
        annual_value=customer.annual_value,
        tier=customer.tier,
        attributes=customer.attributes or {},
        identities=[
            IdentityOut(
                kind=i.kind,
                value=i.value,
                scope=i.scope or None,
                assurance=i.assurance,
                source_channel=i.source_channel,
                created_at=i.created_at,
            )
            for i in identities
        ],
        claims=[
            IdentityOut(
                kind=c.kind,
                value=c.value,
                scope=c.scope or None,
                assurance="claimed",
                source_channel=c.source_channel,
                created_at=c.created_at,
            )
            for c in claims
        ],
        consent={
            c.channel: ConsentOut(status=c.status, source=c.source, updated_at=c.updated_at)
            for c in consents
        },
        merge_suggestions=[
            MergeSuggestionOut(
                id=s.id,
                customer_id=s.customer_id,
                other_customer_id=s.other_customer_id,
                kind=s.kind,
                reason=s.reason,
                status=s.status,
                created_at=s.created_at,
            )
            for s in suggestions
        ],
        recent_orders=[
            OrderOut(
                id=o.external_id,
                items=o.items,
                amount=o.amount,
                currency=o.currency,
                date=o.ordered_at,
            )
            for o in orders
        ],
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )


async def customers_by_identity(session: AsyncSession, keys: list[IdentityKey]) -> list[uuid.UUID]:
    """Customers holding every one of ``keys`` (a trusted identity each)."""
    result: set[uuid.UUID] | None = None
    for key in keys:
        owners = set(
            (
                await session.scalars(
                    select(Identity.customer_id).where(
                        Identity.kind == key.kind,
                        Identity.scope == key.scope,
                        Identity.value == key.value,
                    )
                )
            ).all()
        )
        result = owners if result is None else result & owners
    return sorted(result or ())
