"""Routes: customer profiles, identities, orders, timelines and merges."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.api.deps import HubDep, PrincipalDep
from relaydesk.api.errors import ApiError, field_error, moved, problem
from relaydesk.customers.actions import (
    CustomerNotFound,
    IdentityTaken,
    OrderBelongsToAnother,
    OrderInput,
    merge_customers,
    record_order,
    update_customer,
)
from relaydesk.customers.identities import (
    CHANNEL_SCOPED_KINDS,
    IdentityKey,
    InvalidIdentity,
    identity_key,
)
from relaydesk.customers.models import MergeSuggestion
from relaydesk.customers.queries import current_customer_id, customer_view, customers_by_identity
from relaydesk.customers.schemas import (
    CustomerList,
    CustomerOut,
    CustomerPatch,
    MergeIn,
    MergeOut,
    MergeSuggestionOut,
    OrderIn,
    OrderOut,
)
from relaydesk.hub import Hub
from relaydesk.journeys.api import workspace_config
from relaydesk.journeys.queries import timeline
from relaydesk.journeys.schemas import Timeline

router = APIRouter(tags=["customers"])

MERGED: dict[int | str, dict[str, Any]] = {
    308: {"description": "The customer was merged; follow Location to the survivor"},
    404: problem("No customer with that id (`customer_not_found`)"),
}


async def _current(session: AsyncSession, customer_id: uuid.UUID, request: Request) -> uuid.UUID:
    """The live customer for ``customer_id``; a merged id redirects (308) to its survivor."""
    current = await current_customer_id(session, customer_id)
    if current is None:
        raise ApiError(404, "customer_not_found", f"no customer {customer_id}")
    if current != customer_id:
        error = moved(
            request,
            customer_id,
            current,
            "customer_merged",
            f"customer {customer_id} was merged into {current}",
        )
        error.extra["merged_into"] = str(current)
        raise error
    return current


async def _view(hub: Hub, customer_id: uuid.UUID) -> CustomerOut:
    async with hub.db.read() as session:
        view = await customer_view(session, customer_id)
    if view is None:
        raise ApiError(404, "customer_not_found", f"no customer {customer_id}")
    return view


@router.get("/customers", response_model=CustomerList, summary="Find customers by identity")
async def find_customers(
    hub: HubDep,
    _: PrincipalDep,
    email: str | None = None,
    phone: str | None = None,
    handle: str | None = None,
    channel: Annotated[str | None, Query(description="The channel a handle belongs to")] = None,
) -> CustomerList:
    config = await workspace_config(hub)
    keys: list[IdentityKey] = []
    handles: list[IdentityKey] = []
    try:
        if email is not None:
            keys.append(identity_key("email", email))
        if phone is not None:
            keys.append(identity_key("phone", phone, default_region=config.default_country))
        if handle is not None:
            if channel is None:
                raise field_error(("query", "channel"), "a handle needs the channel it belongs to")
            # The channel's own kind of id (a Messenger PSID, a WhatsApp BSUID, a chat id).
            handles = [identity_key(kind, handle, scope=channel) for kind in CHANNEL_SCOPED_KINDS]
    except InvalidIdentity as exc:
        where = "handle" if exc.kind in CHANNEL_SCOPED_KINDS else exc.kind
        raise field_error(("query", where), exc.reason) from None
    if not keys and handle is None:
        raise field_error(("query",), "give at least one of email, phone or handle")
    async with hub.db.read() as session:
        ids = await customers_by_identity(session, keys) if keys else []
        if handle is not None:
            holders = {c for key in handles for c in await customers_by_identity(session, [key])}
            ids = [c for c in ids if c in holders] if keys else sorted(holders)
        views = [await customer_view(session, customer_id) for customer_id in ids]
    return CustomerList(items=[view for view in views if view is not None])


@router.get(
    "/customers/{customer_id}", response_model=CustomerOut, responses=MERGED, summary="A customer"
)
async def get_customer(
    customer_id: uuid.UUID, request: Request, hub: HubDep, _: PrincipalDep
) -> CustomerOut:
    async with hub.db.read() as session:
        await _current(session, customer_id, request)
    return await _view(hub, customer_id)


@router.patch(
    "/customers/{customer_id}",
    response_model=CustomerOut,
    responses={
        **MERGED,
        409: problem("An identity belongs to another customer (`identity_taken`)"),
    },
    summary="Update a customer",
)
async def patch_customer(
    customer_id: uuid.UUID,
    body: CustomerPatch,
    request: Request,
    hub: HubDep,
    principal: PrincipalDep,
) -> CustomerOut:
    async with hub.db.read() as session:
        await _current(session, customer_id, request)
    config = await workspace_config(hub)
    fields = body.model_dump(exclude_unset=True, exclude={"email", "phone", "consent"})
    if "lifetime_value" in fields and fields["lifetime_value"] is None:
        raise field_error(("body", "lifetime_value"), "must be a number ≥ 0, not null")
    keys = []
    try:
        if body.email is not None:
            keys.append(identity_key("email", body.email))
        if body.phone is not None:
            keys.append(identity_key("phone", body.phone, default_region=config.default_country))
    except InvalidIdentity as exc:
        raise field_error(("body", exc.kind), exc.reason) from None
    try:
        await hub.db.transaction(
            lambda s: update_customer(
                s, customer_id, fields, identities=keys, consent=body.consent, actor=principal.actor
            )
        )
    except IdentityTaken as exc:
        raise ApiError(409, "identity_taken", str(exc), other_customer_id=str(exc.other)) from None
    hub.wake_worker()
    return await _view(hub, customer_id)


@router.post(
    "/customers/{customer_id}/orders",
    status_code=201,
    response_model=OrderOut,
    responses={200: {"model": OrderOut, "description": "An existing order was updated"}, **MERGED},
    summary="Record a purchase",
)
async def post_order(
    customer_id: uuid.UUID,
    body: OrderIn,
    request: Request,
    response: Response,
    hub: HubDep,
    principal: PrincipalDep,
) -> OrderOut:
    async with hub.db.read() as session:
        await _current(session, customer_id, request)
    order = OrderInput(
        external_id=body.id,
        items=[item.model_dump(mode="json", exclude_none=True) for item in body.items],
        amount=body.amount,
        currency=body.currency,
        ordered_at=body.date,
    )
    try:
        row, created = await hub.db.transaction(
            lambda s: record_order(s, customer_id, order, actor=principal.actor)
        )
    except OrderBelongsToAnother as exc:
        raise ApiError(409, "order_belongs_to_another_customer", str(exc)) from None
    response.status_code = 201 if created else 200
    hub.wake_worker()
    return OrderOut(
        id=row.external_id,
        items=row.items,
        amount=row.amount,
        currency=row.currency,
        date=row.ordered_at,
    )


def _encode_cursor(at: datetime, message_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{message_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, message_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), uuid.UUID(message_id)
    except (ValueError, UnicodeDecodeError):
        raise field_error(("query", "after"), "not a cursor returned by this API") from None


@router.get(
    "/customers/{customer_id}/timeline",
    response_model=Timeline,
    responses=MERGED,
    summary="Every message on every channel, oldest first",
)
async def get_timeline(
    customer_id: uuid.UUID,
    request: Request,
    hub: HubDep,
    _: PrincipalDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Timeline:
    cursor = _decode_cursor(after) if after else None
    async with hub.db.read() as session:
        await _current(session, customer_id, request)
        items = await timeline(session, customer_id, after=cursor, limit=limit)
    next_cursor = (
        _encode_cursor(items[-1].created_at, items[-1].message_id) if len(items) == limit else None
    )
    return Timeline(items=items, next_cursor=next_cursor)


@router.post(
    "/customers/{customer_id}/merge",
    response_model=MergeOut,
    responses=MERGED,
    summary="Merge another customer into this one",
)
async def post_merge(
    customer_id: uuid.UUID, body: MergeIn, request: Request, hub: HubDep, principal: PrincipalDep
) -> MergeOut:
    if body.other_customer_id == customer_id:
        raise field_error(("body", "other_customer_id"), "a customer cannot be merged into itself")
    async with hub.db.read() as session:
        await _current(session, customer_id, request)
        other = await current_customer_id(session, body.other_customer_id)
    if other is None:
        raise ApiError(404, "customer_not_found", f"no customer {body.other_customer_id}")
    if other != body.other_customer_id:
        raise ApiError(
            409,
            "already_merged",
            f"customer {body.other_customer_id} was already merged into {other}",
            merged_into=str(other),
        )
    try:
        record = await hub.db.transaction(
            lambda s: merge_customers(
                s,
                survivor_id=customer_id,
                merged_id=other,
                actor=principal.actor,
                reason=body.reason,
            )
        )
    except (CustomerNotFound, ValueError) as exc:
        raise ApiError(409, "merge_conflict", str(exc)) from None
    hub.wake_worker()
    return MergeOut(
        merge_id=record.id,
        survivor_id=record.survivor_id,
        merged_id=record.merged_id,
        actor=record.actor,
        moved=record.moved,
        customer=await _view(hub, customer_id),
    )


@router.get(
    "/merge-suggestions",
    response_model=dict[str, list[MergeSuggestionOut]],
    summary="Customers that may be one person",
)
async def list_merge_suggestions(
    hub: HubDep, _: PrincipalDep, status: str = "open"
) -> dict[str, Any]:
    async with hub.db.read() as session:
        rows = (
            await session.scalars(
                select(MergeSuggestion)
                .where(MergeSuggestion.status == status)
                .order_by(MergeSuggestion.created_at)
                .limit(500)
            )
        ).all()
    return {"items": [MergeSuggestionOut.model_validate(row, from_attributes=True) for row in rows]}
