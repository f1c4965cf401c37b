"""Surveys after resolution: decide (sampling, cooldown), schedule, ask, expire."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock, timers
from relaydesk.bus import StoredEvent, publish
from relaydesk.channels.models import Channel
from relaydesk.customers.models import Customer
from relaydesk.db import new_id
from relaydesk.journeys.models import Conversation, Journey
from relaydesk.journeys.states import JourneyStatus
from relaydesk.outreach.actions.sending import Outgoing, send
from relaydesk.outreach.answers import COMMENT, QUESTIONS_OF, RANGES, button_id
from relaydesk.outreach.config import OutreachConfig
from relaydesk.outreach.daytime import next_daytime
from relaydesk.outreach.events import SurveyAsked, SurveyClosed, SurveyScheduled, SurveySkipped
from relaydesk.outreach.models import Survey
from relaydesk.outreach.queries import journey_intent, load_config, recipient, writes
from relaydesk.outreach.texts import OutreachTexts

ASK_KIND = "outreach.survey_ask"
EXPIRE_KIND = "outreach.survey_expire"
ACTOR = "outreach"
RESOLVED_BY_BOT = "resolved_by_bot"
COUNTED = ("scheduled", "asking", "answered", "expired")
"""Survey states that count against the per-customer cooldown."""


def ask_key(survey_id: uuid.UUID) -> str:
    return f"outreach:survey:{survey_id}"


def expire_key(survey_id: uuid.UUID) -> str:
    return f"outreach:survey-expire:{survey_id}"


def sampled(journey_id: uuid.UUID, share: float) -> bool:
    """Deterministic per journey (a retried listener decides the same way)."""
    if share >= 1:
        return True
    digest = hashlib.sha256(journey_id.bytes).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def questions(config: OutreachConfig) -> list[str]:
    keys = [q for metric in config.surveys.metrics for q in QUESTIONS_OF[metric]]
    return keys + ([COMMENT] if config.surveys.comment else [])


async def _ended_on(
    session: AsyncSession, journey_id: uuid.UUID
) -> tuple[Channel, Conversation] | None:
    rows = (
        await session.execute(
            select(Conversation, Channel)
            .join(Channel, Channel.id == Conversation.channel_id)
            .where(Conversation.journey_id == journey_id)
            .order_by(Conversation.last_message_at.desc())
        )
    ).all()
    for conversation, channel in rows:
        if writes(channel.kind):
            return channel, conversation
    return None


def _resolver(journey: Journey, event: StoredEvent) -> tuple[str, uuid.UUID | None]:
    if event.payload.get("outcome") == RESOLVED_BY_BOT:
        return "bot", None
    if journey.owner_agent_id is not None:
        return "person", journey.owner_agent_id
    if event.actor.startswith("agent:"):
        try:
            return "person", uuid.UUID(event.actor.removeprefix("agent:"))
        except ValueError:
            pass
    return "person", None


async def plan_survey(session: AsyncSession, event: StoredEvent) -> Survey | None:
    """On ``JourneyResolved``: schedule a survey, record a skip with its reason, or nothing
    (surveys off). Idempotent: one survey row per resolution event."""
    config = await load_config(session)
    surveys = config.surveys
    if not surveys.enabled or event.journey_id is None:
        return None
    journey = await session.get(Journey, event.journey_id)
    if journey is not None:
        # One planner per customer at a time, so two journeys resolved at once (two workers)
        # cannot both pass the cooldown check below and both ask.
        await session.execute(
            select(Customer.id).where(Customer.id == journey.customer_id).with_for_update()
        )
    if await session.scalar(select(Survey.id).where(Survey.event_id == event.id)) is not None:
        return None
    who = await recipient(session, journey.customer_id) if journey else None
    if journey is None or who is None:
        return None
    now = clock.now()
    ended = await _ended_on(session, journey.id)
    resolved_by, agent_id = _resolver(journey, event)
    survey = Survey(
        id=new_id(),
        event_id=event.id,
        journey_id=journey.id,
        customer_id=journey.customer_id,
        channel=ended[0].name if ended else None,
        conversation_id=ended[1].id if ended else None,
        language=who.language,
        intent=await journey_intent(session, journey),
        resolved_by=resolved_by,
        agent_id=agent_id,
        questions=questions(config),
        position=0,
        status="scheduled",
        ask_at=next_daytime(now + surveys.delay, who.zone, config.daytime),
        created_at=now,
        updated_at=now,
    )
    reason = None
    if event.payload.get("outcome") in surveys.skip_outcomes:
        reason = "outcome"
    elif ended is None:
        reason = "no_channel"
    elif not sampled(journey.id, surveys.sample):
        reason = "not_sampled"
    elif await session.scalar(
        select(Survey.id)
        .where(
            Survey.customer_id == journey.customer_id,
            Survey.status.in_(COUNTED),
            Survey.created_at > now - surveys.cooldown,
        )
        .limit(1)
    ):
        reason = "cooldown"
    if reason is not None:
        survey.status, survey.reason = "skipped", reason
    session.add(survey)
    await session.flush()
    if reason is not None:
        await publish(session, _skipped(survey, reason), actor=ACTOR)
        return survey
    await timers.schedule(
        session,
        ASK_KIND,
        survey.ask_at,
        key=ask_key(survey.id),
        payload={"survey_id": str(survey.id)},
    )
    await publish(
        session,
        SurveyScheduled(
            customer_id=survey.customer_id,
            journey_id=survey.journey_id,
            survey_id=survey.id,
            ask_at=survey.ask_at,
        ),
        actor=ACTOR,
    )
    return survey


def _skipped(survey: Survey, reason: str) -> SurveySkipped:
    return SurveySkipped(
        customer_id=survey.customer_id,
        journey_id=survey.journey_id,
        survey_id=survey.id,
        reason=reason,
    )


def question_outgoing(survey: Survey, config: OutreachConfig) -> Outgoing:
    question = survey.questions[survey.position]
    texts = OutreachTexts.load()
    overrides = {lang: t[question] for lang, t in config.surveys.texts.items() if question in t}
    buttons = []
    if question in RANGES:
        low, high = RANGES[question]
        buttons = [{"id": button_id(question, n), "title": str(n)} for n in range(low, high + 1)]
    return Outgoing(
        text=texts.text(question, survey.language, overrides),
        buttons=buttons,
        meta={"survey_id": str(survey.id), "survey_question": question},
    )


async def ask_next(session: AsyncSession, survey: Survey, config: OutreachConfig) -> bool:
    """Send the question at ``survey.position``; False (and the survey skipped) if refused."""
    channel = await session.scalar(select(Channel).where(Channel.name == survey.channel))
    if channel is None:
        await close(session, survey, "skipped", "no_channel")
        return False
    sent = await send(
        session, survey.journey_id, channel, question_outgoing(survey, config), author="survey"
    )
    if sent.message is None:
        await close(session, survey, "skipped", sent.code or "refused")
        return False
    now = clock.now()
    survey.status, survey.updated_at = "asking", now
    survey.asked_at = survey.asked_at or now
    await timers.schedule(
        session,
        EXPIRE_KIND,
        now + config.surveys.expire_after,
        key=expire_key(survey.id),
        payload={"survey_id": str(survey.id)},
    )
    await publish(
        session,
        SurveyAsked(
            customer_id=survey.customer_id,
            journey_id=survey.journey_id,
            survey_id=survey.id,
            question=survey.questions[survey.position],
            message_id=sent.message.id,
        ),
        actor=ACTOR,
    )
    return True


async def fire_ask(session: AsyncSession, survey_id: uuid.UUID) -> None:
    survey = await session.scalar(select(Survey).where(Survey.id == survey_id).with_for_update())
    if survey is None or survey.status != "scheduled":
        return
    journey = await session.get(Journey, survey.journey_id)
    if journey is None or journey.status != JourneyStatus.RESOLVED.value:
        await close(session, survey, "cancelled", "reopened")
        return
    config = await load_config(session)
    who = await recipient(session, survey.customer_id)
    now = clock.now()
    if who is not None:
        allowed = next_daytime(now, who.zone, config.daytime)
        if allowed > now:
            survey.ask_at = allowed
            await timers.schedule(
                session,
                ASK_KIND,
                allowed,
                key=ask_key(survey.id),
                payload={"survey_id": str(survey.id)},
            )
            return
    await ask_next(session, survey, config)


async def fire_expire(session: AsyncSession, survey_id: uuid.UUID) -> None:
    survey = await session.scalar(select(Survey).where(Survey.id == survey_id).with_for_update())
    if survey is not None and survey.status == "asking":
        await close(session, survey, "expired", None)


async def close(
    session: AsyncSession,
    survey: Survey,
    status: str,
    reason: str | None,
    *,
    at: datetime | None = None,
) -> None:
    survey.status, survey.reason = status, reason
    survey.updated_at = at or clock.now()
    if status == "answered":
        survey.answered_at = survey.updated_at
    await timers.cancel(session, expire_key(survey.id))
    event = (
        _skipped(survey, reason or status)
        if status == "skipped"
        else SurveyClosed(
            customer_id=survey.customer_id,
            journey_id=survey.journey_id,
            survey_id=survey.id,
            status=status,
        )
    )
    await publish(session, event, actor=ACTOR)
