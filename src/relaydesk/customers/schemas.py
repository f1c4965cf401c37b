"""API shapes for customers, identities, consent, orders and merges."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, field_validator

MoneyOut = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class IdentityOut(BaseModel):
    kind: str
    value: str
    scope: str | None
    assurance: str
    source_channel: str | None
    created_at: datetime


class ConsentOut(BaseModel):
    status: Literal["granted", "revoked"]
    source: str
    updated_at: datetime


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Annotated[str, Field(min_length=1, max_length=300)]
    sku: str | None = None
    quantity: Annotated[int, Field(ge=1)] = 1
    price: MoneyIn | None = None


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="Your order number; posting it again updates the order"
    )
    items: list[OrderItem] = Field(default_factory=list)
    amount: MoneyIn
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    date: AwareDatetime = Field(
        description="When it was ordered: a time with its zone, or a plain date (midnight UTC)"
    )

    @field_validator("date", mode="before")
    @classmethod
    def _plain_date_is_midnight_utc(cls, value: object) -> object:
        if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
            return f"{value}T00:00:00+00:00"
        return value


class OrderOut(BaseModel):
    id: str
    items: list[dict[str, Any]]
    amount: MoneyOut
    currency: str
    date: datetime


class MergeSuggestionOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    other_customer_id: uuid.UUID
    kind: str
    reason: str
    status: str
    created_at: datetime


class CustomerOut(BaseModel):
    id: uuid.UUID
    name: str | None
    email: str | None
    phone: str | None
    locale: str | None
    timezone: str | None
    country: str | None
    lifetime_value: MoneyOut
    annual_value: MoneyOut | None
    tier: str | None
    attributes: dict[str, Any]
    identities: list[IdentityOut]
    claims: list[IdentityOut] = Field(description="Identities the customer typed, unverified")
    consent: dict[str, ConsentOut] = Field(description="Per channel name")
    merge_suggestions: list[MergeSuggestionOut]
    recent_orders: list[OrderOut]
    created_at: datetime
    updated_at: datetime


class CustomerList(BaseModel):
    items: list[CustomerOut]


class CustomerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=200)] | None = None
    locale: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")] | None = None
    timezone: str | None = None
    country: str | None = None
    lifetime_value: MoneyIn | None = None
    annual_value: MoneyIn | None = None
    tier: Annotated[str, Field(max_length=40)] | None = None
    attributes: dict[str, Any] | None = Field(
        None, description="Merged key by key; a null value removes that key"
    )
    email: str | None = Field(None, description="Adds an email identity (asserted by you)")
    phone: str | None = Field(None, description="Adds a phone identity (asserted by you)")
    consent: dict[str, Literal["granted", "revoked"]] | None = Field(
        None, description="Channel name → granted or revoked"
    )

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as Europe/Stockholm") from None
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"[A-Za-z]{2}", value) or value.upper() not in (
            phonenumbers.SUPPORTED_REGIONS
        ):
            raise ValueError("an ISO 3166 two-letter country code such as SE")
        return value.upper()


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_customer_id: uuid.UUID = Field(description="Merged into this customer, then redirects")
    reason: Annotated[str, Field(max_length=500)] = "merged by an operator"


class MergeOut(BaseModel):
    merge_id: uuid.UUID
    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    actor: str
    moved: dict[str, int]
    customer: CustomerOut
