"""Proactive status updates for journeys waiting on the company (status ``pending``)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock, timers
from relaydesk.bus import publish
from relaydesk.channels.models import Channel
from relaydesk.journeys.models import Journey, Message
from relaydesk.journeys.states import (
    InvalidTransition,
    JourneyStatus,
    JourneyTrigger,
    next_journey_status,
)
from relaydesk.outreach.actions.sending import Outgoing, send, template_for
from relaydesk.outreach.config import OutreachConfig
from relaydesk.outreach.daytime import next_daytime
from relaydesk.outreach.events import UpdatePlanned, UpdateSent, UpdateSkipped
from relaydesk.outreach.models import UpdatePlan
from relaydesk.outreach.queries import journey_intent, latest_channel, load_config, recipient
from relaydesk.outreach.texts import OutreachTexts, localized_time

TIMER_KIND = "outreach.update"
ACTOR = "outreach"


def timer_key(journey_id: uuid.UUID) -> str:
    return f"outreach:update:{journey_id}"


class UpdateError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def cadence(session: AsyncSession, journey: Journey, config: OutreachConfig) -> timedelta:
    """The intent's cadence, else the priority's (``context.priority``), else the default."""
    updates = config.updates
    intent = await journey_intent(session, journey)
    if intent is not None and intent in updates.intents:
        return updates.intents[intent]
    priority = (journey.context or {}).get("priority")
    if isinstance(priority, str) and priority in updates.priorities:
        return updates.priorities[priority]
    return updates.every


async def wait_on_company(
    session: AsyncSession,
    journey_id: uuid.UUID,
    *,
    actor: str,
    next_at: datetime | None = None,
    text: str | None = None,
    reason: str | None = None,
) -> UpdatePlan:
    """Mark the journey pending (waiting on the company) and plan its next update.

    Called again on a pending journey it replaces the plan: an agent setting the next
    update's time and text.
    """
    journey = await session.scalar(
        select(Journey).where(Journey.id == journey_id).with_for_update()
    )
    if journey is None:
        raise UpdateError(404, "journey_not_found", f"no journey {journey_id}")
    try:
        journey.status = next_journey_status(journey.status, JourneyTrigger.WAIT_ON_COMPANY)
    except InvalidTransition:
        raise UpdateError(
            409, "not_active", f"a {journey.status} journey cannot wait on the company"
        ) from None
    config = await load_config(session)
    interval = await cadence(session, journey, config)
    now = clock.now()
    due = clock.as_utc(next_at) if next_at is not None else now + interval
    if due <= now:
        raise UpdateError(422, "at", "the next update must be in the future")
    plan = await session.get(UpdatePlan, journey_id, with_for_update=True)
    if plan is None:
        plan = UpdatePlan(
            journey_id=journey_id,
            sent_count=0,
            interval_seconds=0,
            set_by=actor,
            next_at=due,
            updated_at=now,
        )
        session.add(plan)
    plan.next_at, plan.text, plan.set_by, plan.updated_at = due, text, actor, now
    plan.interval_seconds = int(interval.total_seconds())
    journey.updated_at = now
    await session.flush()
    await timers.schedule(
        session, TIMER_KIND, due, key=timer_key(journey_id), payload={"journey_id": str(journey_id)}
    )
    await publish(
        session,
        UpdatePlanned(
            customer_id=journey.customer_id,
            journey_id=journey_id,
            next_at=due,
            custom_text=text is not None,
            reason=reason,
        ),
        actor=actor,
    )
    return plan


async def resume(session: AsyncSession, journey_id: uuid.UUID, *, actor: str) -> Journey:
    """The company's part is done: back to open, no more updates."""
    journey = await session.scalar(
        select(Journey).where(Journey.id == journey_id).with_for_update()
    )
    if journey is None:
        raise UpdateError(404, "journey_not_found", f"no journey {journey_id}")
    try:
        journey.status = next_journey_status(journey.status, JourneyTrigger.RESUME)
    except InvalidTransition:
        raise UpdateError(409, "not_pending", f"the journey is {journey.status}") from None
    journey.updated_at = clock.now()
    await timers.cancel(session, timer_key(journey_id))
    return journey


async def stop_updates(session: AsyncSession, journey_id: uuid.UUID) -> None:
    """After resolution: nothing more is due (idempotent)."""
    await timers.cancel(session, timer_key(journey_id))


async def fire_update(session: AsyncSession, journey_id: uuid.UUID) -> None:
    """The timer's handler: send the update, or skip it with the reason, and plan the next."""
    journey = await session.scalar(
        select(Journey).where(Journey.id == journey_id).with_for_update()
    )
    plan = await session.get(UpdatePlan, journey_id, with_for_update=True)
    if journey is None or plan is None or journey.status != JourneyStatus.PENDING.value:
        return
    config = await load_config(session)
    who = await recipient(session, journey.customer_id)
    if who is None:
        return
    now = clock.now()
    allowed = next_daytime(now, who.zone, config.daytime)
    if allowed > now:  # night for the customer: at their morning
        await _schedule(session, journey_id, allowed)
        return
    interval = timedelta(seconds=plan.interval_seconds)
    following = next_daytime(now + interval, who.zone, config.daytime)
    if not config.updates.enabled:
        return
    # "Within the interval": since the previous update, or since the plan was set (an
    # agent's message before planning is not a reason to skip the update they planned).
    since = max(now - interval, clock.as_utc(plan.updated_at))
    if config.updates.skip_if_person_wrote and await _person_wrote(session, journey_id, since):
        await _record(session, journey, plan, "person_wrote", following)
        return
    channel = await latest_channel(session, journey_id=journey_id, customer_id=journey.customer_id)
    if channel is None:
        await _record(session, journey, plan, "no_channel", following)
        return
    when = localized_time(following, who.language)
    texts = OutreachTexts.load()
    template = plan.text or texts.text("update", who.language, config.updates.texts)
    try:
        body = template.format_map({"next_update": when})
    except (KeyError, ValueError, IndexError):
        body = template  # an agent's own text with stray braces goes as written
    outgoing = Outgoing(
        text=body,
        template=template_for(config.updates.templates, channel),
        variables={"next_update": when},
        meta={"update": True, "language": who.language},
    )
    sent = await send(session, journey_id, channel, outgoing, author="update")
    if sent.message is None:
        await _record(session, journey, plan, sent.code or "refused", following)
        return
    plan.sent_count += 1
    plan.last_sent_at = now
    plan.text = None  # an agent's text is for one update
    await _record(session, journey, plan, "sent", following, message=sent.message, channel=channel)


async def _person_wrote(session: AsyncSession, journey_id: uuid.UUID, since: datetime) -> bool:
    found = await session.scalar(
        select(Message.id)
        .where(
            Message.journey_id == journey_id,
            Message.direction == "outbound",
            Message.author_type == "agent",
            Message.created_at > since,
        )
        .limit(1)
    )
    return found is not None


async def _schedule(session: AsyncSession, journey_id: uuid.UUID, due: datetime) -> None:
    plan = await session.get(UpdatePlan, journey_id)
    if plan is not None:
        plan.next_at = clock.as_utc(due)
    await timers.schedule(
        session, TIMER_KIND, due, key=timer_key(journey_id), payload={"journey_id": str(journey_id)}
    )


async def _record(
    session: AsyncSession,
    journey: Journey,
    plan: UpdatePlan,
    result: str,
    following: datetime,
    *,
    message: Message | None = None,
    channel: Channel | None = None,
) -> None:
    plan.last_result = result[:32]
    plan.updated_at = clock.now()
    await _schedule(session, journey.id, following)
    if message is not None and channel is not None:
        event: UpdateSent | UpdateSkipped = UpdateSent(
            customer_id=journey.customer_id,
            journey_id=journey.id,
            message_id=message.id,
            channel=channel.name,
            next_at=following,
        )
    else:
        event = UpdateSkipped(
            customer_id=journey.customer_id,
            journey_id=journey.id,
            reason=result,
            next_at=following,
        )
    await publish(session, event, actor=ACTOR)
