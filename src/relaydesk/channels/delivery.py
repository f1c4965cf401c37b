"""Sending queued replies through their channel's adapter, with retries, via the outbox.

At least once: a crash between the provider accepting a message and us recording it sends
it again on retry (no provider here offers idempotency keys). A message already recorded as
sent is never sent again.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError

from relaydesk.bus import RetryLater, StoredEvent, on
from relaydesk.channels.actions import record_channel_error, record_failed, record_sent
from relaydesk.channels.base import (
    ChannelMisconfigured,
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
)
from relaydesk.channels.content import attachments_from_meta, buttons_from_meta, text_with_links
from relaydesk.channels.models import Channel
from relaydesk.channels.registry import build_adapter
from relaydesk.hub import Hub
from relaydesk.journeys.events import MessageQueued
from relaydesk.journeys.models import Conversation, Message

log = logging.getLogger("relaydesk.delivery")


async def _load(hub: Hub, message_id: uuid.UUID) -> tuple[Message, Conversation, Channel] | None:
    async with hub.db.read() as session:
        row = (
            await session.execute(
                select(Message, Conversation, Channel)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(Channel, Channel.id == Message.channel_id)
                .where(Message.id == message_id)
            )
        ).first()
    return None if row is None else (row[0], row[1], row[2])


async def _give_up(hub: Hub, event: StoredEvent, error: str) -> None:
    message_id = uuid.UUID(event.payload["message_id"])
    await hub.db.transaction(
        lambda s: record_failed(
            s,
            message_id,
            error=f"gave up after repeated failures: {error}",
            code="dead_letter",
            opted_out=False,
        )
    )


@on(MessageQueued, on_dead=_give_up)
async def deliver(hub: Hub, event: StoredEvent) -> None:
    message_id = uuid.UUID(event.payload["message_id"])
    loaded = await _load(hub, message_id)
    if loaded is None:
        return
    message, conversation, channel = loaded
    if message.delivery_status != "queued":
        return  # already sent (or failed) by an earlier attempt
    try:
        adapter = build_adapter(channel.name, channel.kind, channel.settings)
        files = attachments_from_meta(message.meta.get("attachments"))
        text = message.text
        if files and not adapter.capabilities.attachments:
            text, files = text_with_links(text, files), ()
        result = await adapter.send(
            OutboundMessage(
                message_id=str(message.id),
                text=text,
                reply_to=conversation.reply_to or {},
                attachments=files,
                buttons=buttons_from_meta(message.meta.get("buttons")),
                template=message.meta.get("template"),
                tag=message.meta.get("tag"),
                meta={**message.meta, "author_type": message.author_type},
            ),
            hub.http,
        )
    except (TransientSendError, ChannelMisconfigured) as exc:
        reason = f"{channel.kind}: {exc}"
        await hub.db.transaction(lambda s: record_channel_error(s, channel.id, reason))
        raise RetryLater(reason, getattr(exc, "retry_after", None)) from exc
    except PermanentSendError as exc:
        log.info("delivery of a %s message failed permanently (code %s)", channel.kind, exc.code)
        error, code, opted_out = str(exc), exc.code, exc.opted_out
        await hub.db.transaction(
            lambda s: record_failed(s, message.id, error=error, code=code, opted_out=opted_out)
        )
        return
    try:
        await hub.db.transaction(
            lambda s: record_sent(s, message.id, result.external_id, result.status)
        )
    except Exception as exc:
        # The provider has the message: a retry would reach the customer twice. Record it as
        # sent without the provider's id, and say so in the channel's health.
        problem = (
            f"{channel.kind}: sent, but storing the provider's id failed ({type(exc).__name__})"
        )
        log.warning("%s", problem)
        # The id goes only if it is what the database refused (a clash, too long).
        keep = None if isinstance(exc, IntegrityError | DataError) else result.external_id
        await hub.db.transaction(lambda s: record_sent(s, message.id, keep, result.status))
        await hub.db.transaction(lambda s: record_channel_error(s, channel.id, problem))
