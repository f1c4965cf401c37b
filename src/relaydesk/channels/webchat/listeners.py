"""Reactions for the web chat channel: live pushes to open widgets, and one-time codes.

- A reply recorded as sent (channels/delivery.py called ``WebchatChannel.send``) is pushed to
  every open widget of the customer (session.py mirrors a visitor's own messages to their
  other tabs itself). Pushing twice is harmless: the widget keys messages on their id.
- A requested verification code is generated here, hashed into the database, and sent with
  the ``verification_channel``'s adapter (an email), so no request handler calls a provider.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select

from relaydesk.bus import RetryLater, StoredEvent, on
from relaydesk.channels.actions import record_channel_error
from relaydesk.channels.base import (
    ChannelMisconfigured,
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
)
from relaydesk.channels.models import Channel
from relaydesk.channels.registry import build_adapter
from relaydesk.channels.webchat.actions import CODE_TTL, finish_sending, issue_code
from relaydesk.channels.webchat.adapter import KIND, WebchatConfig
from relaydesk.channels.webchat.broadcast import live_broadcast, visitor_topic
from relaydesk.channels.webchat.events import WebchatCodeRequested, WebchatEmailVerified
from relaydesk.channels.webchat.models import WebchatVerification
from relaydesk.channels.webchat.queries import frame_of, push_target, visitors_of
from relaydesk.hub import Hub
from relaydesk.journeys.events import MessageDeliveryChanged
from relaydesk.signing import signing_key

log = logging.getLogger("relaydesk.webchat")


async def _push(hub: Hub, channel: str, visitors: list[str], frame: dict[str, Any]) -> None:
    broadcast = live_broadcast(hub)
    for visitor in visitors:
        await broadcast.publish(visitor_topic(channel, visitor), frame)


async def push_message(hub: Hub, message_id: uuid.UUID) -> None:
    """Show a stored web chat message in every open widget of its customer."""
    async with hub.db.read() as session:
        target = await push_target(session, message_id)
    if target is None:
        return
    for visitor in target.visitors:
        frame = frame_of(target.message, visitor)
        await live_broadcast(hub).publish(visitor_topic(target.channel, visitor), frame)


@on(MessageDeliveryChanged)
async def push_reply(hub: Hub, event: StoredEvent) -> None:
    if event.payload.get("status") == "sent":
        await push_message(hub, uuid.UUID(event.payload["message_id"]))


async def _load_request(
    hub: Hub, verification_id: uuid.UUID
) -> tuple[WebchatVerification, WebchatConfig, Channel | None] | None:
    async with hub.db.read() as session:
        row = await session.get(WebchatVerification, verification_id)
        if row is None:
            return None
        webchat = await session.scalar(select(Channel).where(Channel.name == row.channel))
        if webchat is None or webchat.kind != KIND:
            return None
        config = WebchatConfig.model_validate(webchat.settings)
        sender = None
        if config.verification_channel:
            sender = await session.scalar(
                select(Channel).where(Channel.name == config.verification_channel)
            )
    return row, config, sender


async def _status(hub: Hub, row: WebchatVerification, status: str, **extra: Any) -> None:
    frame = {"type": "email_status", "status": status, "address": row.email, **extra}
    await _push(hub, row.channel, [row.visitor], frame)


async def _fail(hub: Hub, verification_id: uuid.UUID, reason: str) -> None:
    loaded = await _load_request(hub, verification_id)
    changed = await hub.db.transaction(lambda s: finish_sending(s, verification_id, sent=False))
    if changed and loaded is not None:
        log.warning("webchat: a verification code could not be sent (%s)", reason)
        await _status(hub, loaded[0], "failed")


def code_email(title: str, code: str) -> tuple[str, str]:
    minutes = int(CODE_TTL.total_seconds() // 60)
    subject = f"{code} is your code for {title}"
    body = (
        f"Your code is {code}\n\n"
        f"Type it in the chat window to confirm this email address. It expires in {minutes} "
        "minutes.\n\nIf you did not ask for it, ignore this email: nothing happens without "
        "the code.\n"
    )
    return subject, body


async def _gave_up(hub: Hub, event: StoredEvent, error: str) -> None:
    await _fail(hub, uuid.UUID(event.payload["verification_id"]), "gave up after retries")


@on(WebchatCodeRequested, on_dead=_gave_up)
async def send_code(hub: Hub, event: StoredEvent) -> None:
    verification_id = uuid.UUID(event.payload["verification_id"])
    loaded = await _load_request(hub, verification_id)
    if loaded is None or loaded[0].status != "pending":
        return  # superseded, or already sent by an earlier attempt
    row, config, sender = loaded
    if sender is None or not sender.enabled:
        await _fail(hub, verification_id, "the verification channel is missing or disabled")
        return
    key = await signing_key(hub)
    try:
        adapter = build_adapter(sender.name, sender.kind, sender.settings)
    except ChannelMisconfigured as exc:
        problem = str(exc)
        await hub.db.transaction(lambda s: record_channel_error(s, sender.id, problem))
        raise RetryLater(f"{sender.kind}: {problem}") from exc
    issued = await hub.db.transaction(lambda s: issue_code(s, verification_id, key))
    if issued is None:
        return
    subject, body = code_email(config.title, issued.code)
    message = OutboundMessage(
        message_id=f"webchat-code-{verification_id}",
        text=body,
        reply_to={"to": issued.email, "subject": subject, "in_reply_to": None, "references": []},
        meta={"automatic": True, "purpose": "verification_code"},
    )
    try:
        await adapter.send(message, hub.http)
    except (TransientSendError, ChannelMisconfigured) as exc:
        reason = f"{sender.kind}: {exc}"
        await hub.db.transaction(lambda s: record_channel_error(s, sender.id, reason))
        raise RetryLater(reason, getattr(exc, "retry_after", None)) from exc
    except PermanentSendError as exc:
        await _fail(hub, verification_id, f"{sender.kind} refused it (code {exc.code})")
        return
    if await hub.db.transaction(lambda s: finish_sending(s, verification_id, sent=True)):
        await _status(hub, row, "sent")


@on(WebchatEmailVerified)
async def announce_verified(hub: Hub, event: StoredEvent) -> None:
    """Every open widget of the customer re-reads its history (it may now show more)."""
    if event.customer_id is None:
        return
    channel = event.payload["channel"]
    async with hub.db.read() as session:
        visitors = await visitors_of(session, channel, event.customer_id)
    await _push(hub, channel, visitors, {"type": "_resync"})
