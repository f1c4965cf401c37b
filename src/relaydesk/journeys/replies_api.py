"""Routes: reply to a journey, read a message and its delivery status."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from sqlalchemy import select

from relaydesk.api.deps import HubDep, PrincipalDep
from relaydesk.api.errors import ApiError
from relaydesk.channels.models import Channel
from relaydesk.journeys.actions import Reply, ReplyRefused, queue_reply
from relaydesk.journeys.api import COMBINED, ensure_current_journey
from relaydesk.journeys.models import Message
from relaydesk.journeys.schemas import MessageOut, ReplyIn

router = APIRouter(tags=["messages and journeys"])


async def _message_out(hub: HubDep, message_id: uuid.UUID) -> MessageOut:
    async with hub.db.read() as session:
        row = (
            await session.execute(
                select(Message, Channel.name)
                .join(Channel, Channel.id == Message.channel_id)
                .where(Message.id == message_id)
            )
        ).first()
    if row is None:
        raise ApiError(404, "message_not_found", f"no message {message_id}")
    message, channel = row
    return MessageOut(
        id=message.id,
        journey_id=message.journey_id,
        conversation_id=message.conversation_id,
        customer_id=message.customer_id,
        channel=channel,
        direction=message.direction,
        author=f"{message.author_type}:{message.author_id}"
        if message.author_id
        else message.author_type,
        text=message.text,
        external_id=message.external_id,
        created_at=message.created_at,
        sent_at=message.sent_at,
        delivery_status=message.delivery_status,
        delivery_error_code=message.delivery_error_code,
        delivery_error=message.delivery_error,
        delivery_updated_at=message.delivery_updated_at,
    )


@router.post(
    "/journeys/{journey_id}/messages",
    status_code=202,
    response_model=MessageOut,
    responses={
        409: {"description": "The channel's rules refuse this reply; `detail` says why"},
        **COMBINED,
    },
    summary="Reply to the customer (queued for delivery)",
)
async def post_reply(
    journey_id: uuid.UUID, body: ReplyIn, request: Request, hub: HubDep, principal: PrincipalDep
) -> MessageOut:
    await ensure_current_journey(hub, journey_id, request)
    reply = Reply(
        text=body.text,
        author_type=body.author_type,
        author_id=body.author_id or (principal.name if body.author_type == "system" else None),
        channel=body.channel,
        buttons=tuple(body.buttons),
        template=body.template,
        tag=body.tag,
    )
    try:
        message = await hub.db.transaction(lambda s: queue_reply(s, journey_id, reply))
    except ReplyRefused as exc:
        status = 404 if exc.code in ("journey_not_found", "unknown_channel") else 409
        raise ApiError(status, exc.code, exc.reason) from None
    hub.wake_worker()
    return await _message_out(hub, message.id)


@router.get("/messages/{message_id}", response_model=MessageOut, summary="A message")
async def get_message(message_id: uuid.UUID, hub: HubDep, _: PrincipalDep) -> MessageOut:
    return await _message_out(hub, message_id)
