"""Customers, the identities that resolve to them, claims nobody verified, merges, orders."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from relaydesk.db import Base, new_id

Money = Numeric(14, 2)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(35))
    timezone: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))
    lifetime_value: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    annual_value: Mapped[Decimal | None] = mapped_column(Money)
    tier: Mapped[str | None] = mapped_column(String(40))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id"))
    """Set on a customer merged away; its id keeps redirecting to the survivor."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Identity(Base):
    """A way to reach or recognise a customer that somebody trusted asserted.

    ``scope`` is ``""`` for global identities (email, phone) and the channel name for ids that
    only mean something on one channel (an API handle, a Telegram user id).
    """

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "scope", "value"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(100), default="")
    value: Mapped[str] = mapped_column(String(320))
    assurance: Mapped[str] = mapped_column(String(16))
    """integration | provider | verified | agent — how we know it is theirs."""
    source_channel: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]


class IdentityClaim(Base):
    """An identity a customer typed but nobody verified; it never links on its own."""

    __tablename__ = "identity_claims"
    __table_args__ = (UniqueConstraint("customer_id", "kind", "scope", "value"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(100), default="")
    value: Mapped[str] = mapped_column(String(320))
    source_channel: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]


class MergeSuggestion(Base):
    """Two customers that may be one person, for an agent to confirm or dismiss."""

    __tablename__ = "merge_suggestions"
    __table_args__ = (UniqueConstraint("customer_id", "other_customer_id", "kind", "value"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    other_customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(200))


class CustomerMerge(Base):
    """Who merged which customer into which, and what moved."""

    __tablename__ = "customer_merges"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    merged_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    moved: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Consent(Base):
    """Whether a customer may be contacted on a channel, and who said so."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("customer_id", "channel"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    """granted | revoked"""
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class Order(Base):
    """A purchase, shown to agents and used by routing to estimate value."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_date", "customer_id", "ordered_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    external_id: Mapped[str] = mapped_column(String(100), unique=True)
    items: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    ordered_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
