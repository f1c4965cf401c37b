"""Telling a queued customer their position and expected wait, on their channel.

Sent when the journey is first queued for a person and again when its position moved by at
least ``min_change``, never more often than ``min_interval``. The ``routing_wait_notices``
row (what was last told) is read under the journey's lock and written with the message, so
a retried event or a second worker finds it and sends nothing twice.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from babel.dates import format_timedelta
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.customers.models import Customer
from relaydesk.journeys.actions import Reply, ReplyRefused, queue_reply
from relaydesk.journeys.states import ACTIVE_JOURNEY_STATUSES, JourneyOwner
from relaydesk.outreach.texts import OutreachTexts, language_of
from relaydesk.routing.actions.assign import lock_journey
from relaydesk.routing.models import QueueEntryRow, WaitNotice
from relaydesk.routing.schemas import WaitNotices
from relaydesk.workspace.config import load_workspace_config

NOTICE = "routing.wait"
"""``meta.notice`` of the message, so reports can tell these from people's replies."""


def worth_telling(
    told: WaitNotice | None, position: int, settings: WaitNotices, now_seconds: float
) -> bool:
    """First time, or moved ``min_change`` places and ``min_interval`` since the last one."""
    if told is None:
        return True
    if abs(told.position - position) < settings.min_change:
        return False
    return now_seconds - told.sent_at.timestamp() >= settings.min_interval.total_seconds()


def notice_text(language: str, position: int, wait_seconds: float | None) -> str:
    texts = OutreachTexts.load()
    if wait_seconds is None:
        return texts.text("queue_position_unknown", language).format(position=position)
    wait = format_timedelta(timedelta(seconds=max(60.0, wait_seconds)), locale=language)
    return texts.text("queue_position", language).format(position=position, wait=wait)


async def tell_wait(
    session: AsyncSession,
    journey_id: uuid.UUID,
    position: int,
    wait_seconds: float | None,
    settings: WaitNotices,
) -> bool:
    """Send the notice if it is worth it now; True when a message was queued."""
    journey = await lock_journey(session, journey_id)
    if (
        journey is None
        or journey.status not in ACTIVE_JOURNEY_STATUSES
        or journey.owner_type != JourneyOwner.QUEUE.value
        or await session.get(QueueEntryRow, journey_id) is None
    ):
        return False
    told = await session.get(WaitNotice, journey_id, with_for_update=True)
    now = clock.now()
    if not worth_telling(told, position, settings, now.timestamp()):
        return False
    workspace = await load_workspace_config(session)
    locale = await session.scalar(select(Customer.locale).where(Customer.id == journey.customer_id))
    texts = OutreachTexts.load()
    language = texts.pick(language_of(locale, workspace.default_language), "en")
    try:
        message = await queue_reply(
            session,
            journey_id,
            Reply(
                text=notice_text(language, position, wait_seconds),
                author_type="system",
                author_id="routing",
                meta={"notice": NOTICE},
            ),
        )
    except ReplyRefused:
        return False  # a call, an opt-out, a disabled channel: nothing written to say it on
    if told is None:
        session.add(
            WaitNotice(
                journey_id=journey_id,
                position=position,
                wait_seconds=wait_seconds,
                sent=1,
                sent_at=now,
                message_id=message.id,
            )
        )
    else:
        told.position, told.wait_seconds, told.sent_at = position, wait_seconds, now
        told.sent, told.message_id = told.sent + 1, message.id
    await session.flush()
    return True
