"""Scheduled notifications: create, fire (timer), cancel."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock, timers
from relaydesk.bus import publish
from relaydesk.channels.models import Channel
from relaydesk.db import new_id
from relaydesk.journeys.actions.lifecycle import resolve_journey
from relaydesk.outreach.actions.journeys import NOTIFIED, active_journey, open_for_outreach
from relaydesk.outreach.actions.sending import Outgoing, send
from relaydesk.outreach.config import NotificationTemplate, OutreachConfig
from relaydesk.outreach.daytime import next_daytime
from relaydesk.outreach.events import (
    NotificationCancelled,
    NotificationScheduled,
    NotificationSent,
    NotificationSkipped,
)
from relaydesk.outreach.models import Notification
from relaydesk.outreach.queries import latest_channel, load_config, recipient
from relaydesk.outreach.texts import FALLBACK, language_of

TIMER_KIND = "outreach.notification"
ACTOR = "outreach"


def timer_key(notification_id: uuid.UUID) -> str:
    return f"outreach:notification:{notification_id}"


class NotificationError(Exception):
    """Bad input, naming the field (the API answers 404 or 422 with it)."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


class AlreadyFinal(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


async def create_notification(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID,
    template: str,
    send_at: datetime | None,
    channel: str | None,
    language: str | None,
    variables: dict[str, str],
    actor: str,
) -> Notification:
    from relaydesk.customers.queries import current_customer_id

    config = await load_config(session)
    spec = config.notifications.templates.get(template)
    if spec is None:
        known = ", ".join(sorted(config.notifications.templates)) or "none"
        raise NotificationError(
            422, "template", f"no notification template {template!r} (defined: {known})"
        )
    current = await current_customer_id(session, customer_id)
    if current is None:
        raise NotificationError(404, "customer_id", f"no customer {customer_id}")
    customer_id = current  # a merged customer's id: the survivor holds their channels now
    if channel is not None:
        row = await session.scalar(select(Channel).where(Channel.name == channel))
        if row is None:
            raise NotificationError(404, "channel", f"no channel named {channel!r}")
    missing = sorted(spec.variables() - set(variables))
    if missing:
        raise NotificationError(
            422, "variables", f"template {template!r} needs {', '.join(missing)}"
        )
    now = clock.now()
    when = clock.as_utc(send_at) if send_at is not None else now
    notification = Notification(
        id=new_id(),
        customer_id=customer_id,
        template=template,
        channel=channel,
        language=language,
        variables=dict(variables),
        send_at=when,
        status="scheduled",
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(notification)
    await session.flush()
    await timers.schedule(
        session,
        TIMER_KIND,
        when,
        key=timer_key(notification.id),
        payload={"notification_id": str(notification.id)},
    )
    await publish(
        session,
        NotificationScheduled(
            customer_id=customer_id,
            notification_id=notification.id,
            template=template,
            send_at=when,
        ),
        actor=actor,
    )
    return notification


def _text(spec: NotificationTemplate, channel: Channel, language: str) -> tuple[str, str]:
    """(text, language used): the channel's own text, else the template's, best language."""
    specific = spec.channels.get(channel.name) or spec.channels.get(channel.kind)
    for texts in ([specific.texts] if specific else []) + [spec.texts]:
        for code in (language, FALLBACK, *sorted(texts)):
            if code in texts:
                return texts[code], code
    raise AssertionError("a template has at least one text")  # pragma: no cover


async def fire_notification(session: AsyncSession, notification_id: uuid.UUID) -> None:
    """The timer's handler (in the timer's transaction): send, or record why not."""
    notification = await session.scalar(
        select(Notification).where(Notification.id == notification_id).with_for_update()
    )
    if notification is None or notification.status != "scheduled":
        return
    config = await load_config(session)
    who = await recipient(session, notification.customer_id)
    spec = config.notifications.templates.get(notification.template)
    if who is None or spec is None:
        await _skip(session, notification, "template_removed" if who else "no_customer", None)
        return
    if config.notifications.respect_daytime:
        allowed = next_daytime(clock.now(), who.zone, config.daytime)
        if allowed > clock.now():
            await timers.schedule(
                session,
                TIMER_KIND,
                allowed,
                key=timer_key(notification.id),
                payload={"notification_id": str(notification.id)},
            )
            return
    await _send(session, notification, spec, config, who.language)


async def _send(
    session: AsyncSession,
    notification: Notification,
    spec: NotificationTemplate,
    config: OutreachConfig,
    language: str,
) -> None:
    journey = await active_journey(session, notification.customer_id)
    if notification.channel is not None:
        channel = await session.scalar(select(Channel).where(Channel.name == notification.channel))
    else:
        channel = await latest_channel(session, customer_id=notification.customer_id)
    if channel is None:
        code = "unknown_channel" if notification.channel else "no_channel"
        await _skip(session, notification, code, "the customer has no channel to write on")
        return
    wanted = language_of(notification.language, language) if notification.language else language
    text, used = _text(spec, channel, wanted)
    variables = {k: str(v) for k, v in notification.variables.items()}
    specific = spec.channels.get(channel.name) or spec.channels.get(channel.kind)
    try:
        body = text.format_map(variables)
    except KeyError as exc:  # the template changed after scheduling
        await _skip(
            session,
            notification,
            "missing_variable",
            f"template {notification.template!r} now needs {{{exc.args[0]}}}, which the "
            "notification does not give",
        )
        return
    outgoing = Outgoing(
        text=body,
        template=specific.template if specific else None,
        variables=variables,
        purpose=spec.purpose,
        meta={"notification_id": str(notification.id), "language": used},
    )
    opened = journey is None
    async with session.begin_nested() as savepoint:
        target = journey or await open_for_outreach(session, notification.customer_id, channel.name)
        sent = await send(session, target.id, channel, outgoing, author=f"notification:{spec.kind}")
        if sent.message is None:
            await savepoint.rollback()
    if sent.message is None:
        await _skip(session, notification, sent.code or "refused", sent.detail)
        return
    if opened:
        await resolve_journey(session, target.id, outcome=NOTIFIED, actor=ACTOR)
    notification.status = "sent"
    notification.sent_channel = channel.name
    notification.journey_id = target.id
    notification.message_id = sent.message.id
    notification.updated_at = clock.now()
    await publish(
        session,
        NotificationSent(
            customer_id=notification.customer_id,
            journey_id=target.id,
            notification_id=notification.id,
            message_id=sent.message.id,
            channel=channel.name,
        ),
        actor=ACTOR,
    )


async def _skip(
    session: AsyncSession, notification: Notification, code: str, detail: str | None
) -> None:
    notification.status = "skipped"
    notification.reason = code[:32]
    notification.detail = detail
    notification.updated_at = clock.now()
    await publish(
        session,
        NotificationSkipped(
            customer_id=notification.customer_id, notification_id=notification.id, reason=code
        ),
        actor=ACTOR,
    )


async def cancel_notification(
    session: AsyncSession, notification_id: uuid.UUID, *, actor: str
) -> Notification:
    """Cancel before it is sent; ``AlreadyFinal`` when it was sent, skipped or cancelled.

    The timer is cancelled first and the row locked second, the order the worker takes
    them in, so a cancel racing the send waits for it (PostgreSQL) and then sees it sent.
    """
    await timers.cancel(session, timer_key(notification_id))
    notification = await session.scalar(
        select(Notification).where(Notification.id == notification_id).with_for_update()
    )
    if notification is None:
        raise NotificationError(404, "notification_id", f"no notification {notification_id}")
    if notification.status != "scheduled":
        raise AlreadyFinal(notification.status)
    notification.status = "cancelled"
    notification.updated_at = clock.now()
    await publish(
        session,
        NotificationCancelled(
            customer_id=notification.customer_id, notification_id=notification.id
        ),
        actor=actor,
    )
    return notification
