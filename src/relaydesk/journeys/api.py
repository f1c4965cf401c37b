"""Routes: post a customer message (the API channel's inbound), read and resolve journeys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from relaydesk.api.deps import HubDep, PrincipalDep
from relaydesk.api.errors import ApiError, field_error, moved, problem
from relaydesk.channels.api_channel import ApiChannel, sender_from_api
from relaydesk.channels.base import InboundMessage
from relaydesk.channels.models import Channel
from relaydesk.channels.registry import adapter_for
from relaydesk.customers.identities import InvalidIdentity
from relaydesk.hub import Hub
from relaydesk.journeys.actions import (
    Inbound,
    JourneyNotFound,
    resolve_journey,
    wait_on_customer,
)
from relaydesk.journeys.queries import current_journey_id, journey_view
from relaydesk.journeys.schemas import JourneyOut, MessageAccepted, MessageIn, ResolveIn
from relaydesk.journeys.states import InvalidTransition
from relaydesk.workspace.config import WorkspaceConfig, load_workspace_config

router = APIRouter(tags=["messages and journeys"])


@dataclass(frozen=True)
class _ChannelSnapshot:
    row: Channel | None


async def channel_by_name(hub: Hub, name: str) -> Channel | None:
    """The channel record, cached for a second (read on every inbound request)."""

    async def load() -> _ChannelSnapshot:
        async with hub.db.read() as session:
            return _ChannelSnapshot(
                await session.scalar(select(Channel).where(Channel.name == name))
            )

    return (await hub.config_cache.get(("channel", name), load)).row


async def workspace_config(hub: Hub) -> WorkspaceConfig:
    async def load() -> WorkspaceConfig:
        async with hub.db.read() as session:
            return await load_workspace_config(session)

    return await hub.config_cache.get("workspace", load)


@router.post(
    "/messages",
    status_code=201,
    response_model=MessageAccepted,
    responses={
        200: {"model": MessageAccepted, "description": "Already stored (same external_id)"},
        404: {"description": "No channel of that name"},
        413: {"description": "Text longer than the limit"},
    },
    summary="Post a customer message through an API channel",
)
async def post_message(
    body: MessageIn, hub: HubDep, principal: PrincipalDep, response: Response
) -> MessageAccepted:
    limit = hub.settings.max_text_length
    if len(body.text) > limit:
        raise ApiError(
            413,
            "text_too_long",
            f"text is {len(body.text)} characters; the limit is {limit}",
            limit=limit,
        )
    channel = await channel_by_name(hub, body.channel)
    if channel is None:
        raise ApiError(404, "unknown_channel", f"no channel named {body.channel!r}")
    if channel.kind != ApiChannel.kind:
        raise field_error(
            ("body", "channel"),
            f"{body.channel!r} is a {channel.kind} channel; only api channels accept messages here",
        )
    if not channel.enabled:
        raise ApiError(409, "channel_disabled", f"channel {body.channel!r} is disabled")
    adapter = adapter_for(channel)
    assert isinstance(adapter, ApiChannel)
    config = await workspace_config(hub)
    try:
        sender = sender_from_api(
            body.sender,
            channel_name=channel.name,
            trusted=adapter.trusts_identities,
            default_region=config.default_country,
        )
    except InvalidIdentity as exc:
        raise field_error(("body", "sender", exc.kind), exc.reason) from None
    if not sender.identities:
        needed = "email, phone or handle" if adapter.trusts_identities else "handle"
        raise field_error(("body", "sender"), f"the sender needs at least one of: {needed}")
    inbound = InboundMessage(
        channel=channel.name,
        external_id=body.external_id,
        sender=sender,
        text=body.text,
        sent_at=body.sent_at,
        thread_key=body.thread or "",
        context=body.context or {},
    )
    (result,) = (
        await hub.ingest.submit([Inbound(channel, inbound)], journey_window=config.journey_window)
    ).results
    if result.duplicate:
        response.status_code = 200
    else:
        hub.wake_worker()
    return MessageAccepted(
        message_id=result.message_id,
        conversation_id=result.conversation_id,
        journey_id=result.journey_id,
        customer_id=result.customer_id,
        duplicate=result.duplicate,
    )


COMBINED: dict[int | str, dict[str, Any]] = {
    308: {"description": "Folded into another journey; follow Location"},
    404: problem("No journey with that id (`journey_not_found`)"),
}
CHANGES_STATUS: dict[int | str, dict[str, Any]] = {
    **COMBINED,
    409: problem("Not allowed from the journey's status (`invalid_transition`)"),
}


async def ensure_current_journey(hub: Hub, journey_id: uuid.UUID, request: Request) -> None:
    """404 for an unknown journey; 308 to the journey a combined one was folded into."""
    async with hub.db.read() as session:
        current = await current_journey_id(session, journey_id)
    if current is None:
        raise ApiError(404, "journey_not_found", f"no journey {journey_id}")
    if current != journey_id:
        raise moved(
            request,
            journey_id,
            current,
            "journey_combined",
            f"journey {journey_id} was combined into {current}",
        )


@router.get(
    "/journeys/{journey_id}", response_model=JourneyOut, responses=COMBINED, summary="A journey"
)
async def get_journey(
    journey_id: uuid.UUID, request: Request, hub: HubDep, _: PrincipalDep
) -> JourneyOut:
    await ensure_current_journey(hub, journey_id, request)
    async with hub.db.read() as session:
        view = await journey_view(session, journey_id)
    if view is None:
        raise ApiError(404, "journey_not_found", f"no journey {journey_id}")
    return view


@router.post(
    "/journeys/{journey_id}/resolve",
    response_model=JourneyOut,
    responses=CHANGES_STATUS,
    summary="Resolve a journey",
)
async def post_resolve(
    journey_id: uuid.UUID, body: ResolveIn, request: Request, hub: HubDep, principal: PrincipalDep
) -> JourneyOut:
    await ensure_current_journey(hub, journey_id, request)
    try:
        await hub.db.transaction(
            lambda s: resolve_journey(s, journey_id, outcome=body.outcome, actor=principal.actor)
        )
    except JourneyNotFound:
        raise ApiError(404, "journey_not_found", f"no journey {journey_id}") from None
    except InvalidTransition as exc:
        raise ApiError(409, "invalid_transition", str(exc)) from None
    hub.wake_worker()
    return await get_journey(journey_id, request, hub, principal)


@router.post(
    "/journeys/{journey_id}/wait",
    response_model=JourneyOut,
    responses=CHANGES_STATUS,
    summary="Wait on the customer (SLA clocks pause until they write)",
)
async def post_wait(
    journey_id: uuid.UUID, request: Request, hub: HubDep, principal: PrincipalDep
) -> JourneyOut:
    await ensure_current_journey(hub, journey_id, request)
    try:
        await hub.db.transaction(lambda s: wait_on_customer(s, journey_id, actor=principal.actor))
    except JourneyNotFound:
        raise ApiError(404, "journey_not_found", f"no journey {journey_id}") from None
    except InvalidTransition as exc:
        raise ApiError(409, "invalid_transition", str(exc)) from None
    hub.wake_worker()
    return await get_journey(journey_id, request, hub, principal)
