"""Writes for channels: health markers, delivery outcomes, consent signals, webhooks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bus import publish
from relaydesk.channels.base import (
    ConsentChange,
    DeliveryUpdate,
    OutboundRequest,
    ParsedWebhook,
    Watermark,
    consent_key,
)
from relaydesk.channels.models import Channel
from relaydesk.customers.actions import set_consent
from relaydesk.customers.models import Identity
from relaydesk.journeys.events import MessageDeliveryChanged, OutboundRefused
from relaydesk.journeys.models import Message

HEALTH_RESOLUTION = timedelta(seconds=1)
"""Health timestamps move at most once a second, so busy channels don't contend on one row."""

WATERMARK_SLACK = timedelta(seconds=2)
"""We record ``sent_at`` when the provider has answered, a moment after the provider's own
timestamp that a watermark is compared with."""

DELIVERY_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}
"""Receipts can arrive out of order; a status never moves back (failed is final)."""


_CHANNELS = cast(Table, Channel.__table__)
_TOUCH_INBOUND = (
    update(_CHANNELS)
    .where(
        _CHANNELS.c.id == bindparam("channel"),
        or_(
            _CHANNELS.c.last_inbound_at.is_(None),
            _CHANNELS.c.last_inbound_at < bindparam("since"),
        ),
    )
    .values(last_inbound_at=bindparam("now"))
)
_TOUCHED: dict[uuid.UUID, datetime] = {}
"""When this process last wrote each channel's ``last_inbound_at``. The cached channel copy
does not see this process's own writes, so without it every message ran the ``UPDATE``."""


async def touch_inbound(session: AsyncSession, channel: Channel, now: datetime) -> None:
    """Record that the channel received something, at most once per ``HEALTH_RESOLUTION``.

    ``channel`` may be a cached copy: when its time (or this process's last write) is recent
    enough nothing is written, which spares every message an ``UPDATE`` of one hot row (a
    lock wait on PostgreSQL). A write rolled back with its transaction is made again by the
    first message after ``HEALTH_RESOLUTION``.
    """
    last = channel.last_inbound_at
    if last is not None and last >= now - HEALTH_RESOLUTION:
        return
    mine = _TOUCHED.get(channel.id)
    if mine is not None and mine <= now < mine + HEALTH_RESOLUTION:
        return
    _TOUCHED[channel.id] = now
    await session.execute(
        _TOUCH_INBOUND, {"channel": channel.id, "since": now - HEALTH_RESOLUTION, "now": now}
    )


async def record_channel_error(session: AsyncSession, channel_id: uuid.UUID, error: str) -> None:
    await session.execute(
        update(Channel)
        .where(Channel.id == channel_id)
        .values(last_error=error[:1000], last_error_at=clock.now())
    )


async def _set_delivery(
    session: AsyncSession,
    message: Message,
    status: str,
    *,
    at: datetime,
    error_code: str | None = None,
    error: str | None = None,
) -> bool:
    current = message.delivery_status or "queued"
    if current == "failed" or (
        status != "failed" and DELIVERY_RANK.get(status, 0) <= DELIVERY_RANK.get(current, 0)
    ):
        return False
    message.delivery_status = status
    message.delivery_updated_at = at
    if status == "failed":
        message.delivery_error_code = error_code
        message.delivery_error = (error or "")[:2000] or None
    await publish(
        session,
        MessageDeliveryChanged(
            customer_id=message.customer_id,
            journey_id=message.journey_id,
            message_id=message.id,
            status=status,
            error_code=error_code,
        ),
    )
    return True


async def record_sent(
    session: AsyncSession, message_id: uuid.UUID, external_id: str | None, status: str
) -> None:
    message = await session.get(Message, message_id)
    if message is None:
        return
    now = clock.now()
    if external_id and message.external_id is None:
        message.external_id = external_id
    message.sent_at = message.sent_at or now
    await _set_delivery(session, message, status, at=now)
    await session.execute(
        update(Channel).where(Channel.id == message.channel_id).values(last_outbound_at=now)
    )


async def record_failed(
    session: AsyncSession,
    message_id: uuid.UUID,
    *,
    error: str,
    code: str | None,
    opted_out: bool,
) -> None:
    message = await session.get(Message, message_id)
    if message is None:
        return
    await _set_delivery(session, message, "failed", at=clock.now(), error_code=code, error=error)
    await record_channel_error(session, message.channel_id, error)
    if opted_out:
        channel = await session.get(Channel, message.channel_id)
        if channel is not None:
            await set_consent(
                session, message.customer_id, channel.name, "revoked", source=f"provider:{code}"
            )


async def apply_delivery_update(
    session: AsyncSession, channel: Channel, update_: DeliveryUpdate
) -> bool:
    """Apply a status callback; unknown message ids are ignored (not ours, or not yet sent)."""
    message = await session.scalar(
        select(Message).where(
            Message.channel_id == channel.id,
            Message.external_id == update_.external_id,
            Message.direction == "outbound",
        )
    )
    if message is None:
        return False
    changed = await _set_delivery(
        session,
        message,
        update_.status,
        at=update_.at or clock.now(),
        error_code=update_.error_code,
        error=update_.error,
    )
    if update_.status == "failed":
        await record_channel_error(
            session,
            channel.id,
            f"delivery failed: {update_.error_code or ''} {update_.error or ''}",
        )
    if update_.opted_out:
        await set_consent(
            session,
            message.customer_id,
            channel.name,
            "revoked",
            source=f"provider:{update_.error_code}",
        )
    return changed


async def apply_watermark(session: AsyncSession, channel: Channel, mark: Watermark) -> int:
    """Move every message sent on ``channel`` to the watermark's person up to ``mark.at``
    forward to ``mark.status``; returns how many changed (an unknown person: none)."""
    customer_id = await session.scalar(
        select(Identity.customer_id).where(
            Identity.kind == mark.identity.kind,
            Identity.scope == mark.identity.scope,
            Identity.value == mark.identity.value,
        )
    )
    if customer_id is None:
        return 0
    messages = (
        await session.scalars(
            select(Message)
            .where(
                Message.channel_id == channel.id,
                Message.customer_id == customer_id,
                Message.direction == "outbound",
                Message.sent_at.is_not(None),
                Message.sent_at <= mark.at + WATERMARK_SLACK,
                Message.delivery_status.in_(
                    [
                        s
                        for s, r in DELIVERY_RANK.items()
                        if 0 < r < DELIVERY_RANK.get(mark.status, 0)
                    ]
                ),
            )
            .order_by(Message.sent_at)
        )
    ).all()
    changed = 0
    for message in messages:
        changed += await _set_delivery(session, message, mark.status, at=mark.at)
    return changed


async def apply_consent_change(
    session: AsyncSession, channel: Channel, change: ConsentChange
) -> None:
    customer_id = await session.scalar(
        select(Identity.customer_id).where(
            Identity.kind == change.identity.kind,
            Identity.scope == change.identity.scope,
            Identity.value == change.identity.value,
        )
    )
    if customer_id is not None:
        key = consent_key(channel.name, change.purpose)
        await set_consent(session, customer_id, key, change.status, source=change.reason)


@dataclass(frozen=True)
class WebhookOutcome:
    results: list[object]


async def process_webhook(
    session: AsyncSession, channel: Channel, parsed: ParsedWebhook, *, journey_window: timedelta
) -> WebhookOutcome:
    """Everything one verified webhook says, in one transaction."""
    from relaydesk.journeys.actions import Inbound, ingest_many

    items = [Inbound(channel, message) for message in parsed.messages]
    ingested = await ingest_many(session, items, journey_window=journey_window)
    return await finish_webhook(session, channel, parsed, list(ingested))


async def finish_webhook(
    session: AsyncSession, channel: Channel, parsed: ParsedWebhook, results: list[object]
) -> WebhookOutcome:
    """What a webhook says besides its messages (``results``: theirs, already stored):
    receipts, watermarks, consent, replies the channel asks for."""
    for delivery in parsed.deliveries:
        await apply_delivery_update(session, channel, delivery)
    for mark in parsed.watermarks:
        await apply_watermark(session, channel, mark)
    for change in parsed.consent:
        await apply_consent_change(session, channel, change)
    for request in parsed.outbound:
        await _queue_outbound_request(session, request, results)
    return WebhookOutcome(results)


async def _queue_outbound_request(
    session: AsyncSession, request: OutboundRequest, results: list[object]
) -> None:
    from relaydesk.journeys.actions import IngestResult, Reply, ReplyRefused, queue_reply

    if not 0 <= request.for_message < len(results):
        return
    result = results[request.for_message]
    assert isinstance(result, IngestResult)
    if result.duplicate:
        return  # a provider's retry of a webhook we already handled: it was queued then
    try:
        await queue_reply(
            session,
            result.journey_id,
            Reply(
                text=request.text,
                author_type="system",
                channel=request.channel,
                buttons=request.buttons,
            ),
        )
    except ReplyRefused as exc:
        await publish(
            session,
            OutboundRefused(
                customer_id=result.customer_id,
                journey_id=result.journey_id,
                channel=request.channel,
                code=exc.code,
                reason=exc.reason,
            ),
        )
