"""Survey answers, claimed at ingest before the bot or routing see the message.

``journeys.actions.inbound.ingest_one`` asks ``claim_survey_answer`` first (in the same
transaction) for a known customer with a survey waiting on this channel:

- the message reads as an answer only: it joins the surveyed (resolved) journey and
  conversation without reopening it — so no ``JourneyReopened``, routing and the bot skip
  it (the journey is not active), and the answer is on the journey's timeline;
- it is a request (answers.py), with or without a score set apart, or not an answer at all:
  it is *passed on* (``Claimed.passes_on``) and goes the usual way, exactly as if no survey
  were waiting (reopens or opens a journey, reaches the bot or routing). A score it carried
  is still recorded, and the survey closes: the customer has moved on, and a later "5" is
  for the bot or the agent, not for us (``answered`` when only the comment was left,
  else ``cancelled`` with reason ``request``; answers so far are kept).

No survey waiting (or one whose journey was reopened meanwhile, which is closed then) is
not claimed at all (None).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bus import publish
from relaydesk.channels.base import InboundMessage
from relaydesk.channels.models import Channel
from relaydesk.journeys.models import Conversation, Journey
from relaydesk.journeys.states import JourneyStatus
from relaydesk.outreach.actions.sending import Outgoing, send
from relaydesk.outreach.actions.surveys import ACTOR, ask_next, close
from relaydesk.outreach.answers import COMMENT, METRIC_OF, Answer, read_answer
from relaydesk.outreach.events import SurveyAnswered
from relaydesk.outreach.models import Survey, SurveyAnswer
from relaydesk.outreach.queries import load_config
from relaydesk.outreach.texts import OutreachTexts

HUMAN_KEYS = ("requests_human", "human_request", "human_requested")


REQUEST = "request"
"""Why a survey closed when the customer wrote something else than an answer."""


@dataclass(frozen=True)
class Claimed:
    survey_id: uuid.UUID
    journey_id: uuid.UUID
    conversation_id: uuid.UUID
    question: str
    answer: Answer | None
    """None: the message is not an answer."""

    @property
    def passes_on(self) -> bool:
        """The message goes the usual way (bot, routing), not (only) to the survey."""
        return self.answer is None or self.answer.request


async def surveyed_customers(session: AsyncSession, customer_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these customers have a survey waiting for an answer (on any channel): the
    bulk path of ``journeys.actions.batch`` leaves their messages to ``claim_survey_answer``."""
    if not customer_ids:
        return set()
    rows = await session.scalars(
        select(Survey.customer_id).where(
            Survey.customer_id.in_(customer_ids), Survey.status == "asking"
        )
    )
    return set(rows)


async def claim_survey_answer(
    session: AsyncSession,
    customer_id: uuid.UUID,
    channel: Channel,
    inbound: InboundMessage,
    now: datetime,
) -> Claimed | None:
    """The survey waiting on this channel with this message's answer read (not yet stored;
    see ``Claimed.passes_on``), or None when no survey waits for an answer here."""
    survey = await session.scalar(
        select(Survey)
        .where(
            Survey.customer_id == customer_id,
            Survey.status == "asking",
            Survey.channel == channel.name,
        )
        .order_by(Survey.asked_at.desc())
        .limit(1)
        .with_for_update()
    )
    if survey is None or survey.conversation_id is None:
        return None
    journey_status = await session.scalar(
        select(Journey.status).where(Journey.id == survey.journey_id)
    )
    if journey_status != JourneyStatus.RESOLVED.value:
        await close(session, survey, "cancelled", "reopened")  # no longer answerable
        return None
    question = survey.questions[survey.position]
    payload = (inbound.meta or {}).get("payload")
    answer = (
        None  # an explicit request for a person is never an answer
        if any((inbound.meta or {}).get(key) for key in HUMAN_KEYS)
        else read_answer(
            question,
            inbound.text,
            payload if isinstance(payload, str) else None,
            survey.language,
            OutreachTexts.load(),
        )
    )
    claimed = Claimed(survey.id, survey.journey_id, survey.conversation_id, question, answer)
    if claimed.passes_on:
        return claimed  # the usual path attaches the message; nothing to touch here
    conversation = await session.get(Conversation, survey.conversation_id)
    if conversation is None:
        return None
    conversation.last_message_at = max(conversation.last_message_at, now)
    if inbound.opens_window:
        conversation.last_inbound_at = now
    if inbound.reply_to:
        conversation.reply_to = inbound.reply_to
    return claimed


async def record_answer(session: AsyncSession, claimed: Claimed, message_id: uuid.UUID) -> None:
    """Store the answer (after the message row exists), then ask the next question or thank;
    for a message passed on, close the survey instead (see the module's docstring)."""
    survey = await session.get(Survey, claimed.survey_id)
    assert survey is not None
    answer = claimed.answer
    if answer is None:
        await _moved_on(session, survey)
        return
    now = clock.now()
    if answer.score is not None:
        session.add(
            SurveyAnswer(
                survey_id=survey.id,
                question=answer.question,
                metric=METRIC_OF[answer.question],
                score=answer.score,
                message_id=message_id,
                channel=survey.channel or "",
                intent=survey.intent,
                resolved_by=survey.resolved_by,
                agent_id=survey.agent_id,
                answered_at=now,
            )
        )
    comment = answer.comment
    if comment:
        survey.comment = f"{survey.comment}\n{comment}" if survey.comment else comment
    await publish(
        session,
        SurveyAnswered(
            customer_id=survey.customer_id,
            journey_id=survey.journey_id,
            survey_id=survey.id,
            question=answer.question,
            score=answer.score,
            message_id=message_id,
        ),
        actor=f"customer:{survey.customer_id}",
    )
    survey.position += 1
    if answer.request:
        await _moved_on(session, survey)
        return
    if answer.question != COMMENT and comment and COMMENT in survey.questions[survey.position :]:
        survey.questions = [q for q in survey.questions if q != COMMENT]  # they said it already
    config = await load_config(session)
    if survey.position < len(survey.questions):
        await session.flush()
        await ask_next(session, survey, config)
        return
    await close(session, survey, "answered", None)
    channel = await session.scalar(select(Channel).where(Channel.name == survey.channel))
    if channel is not None:
        texts = OutreachTexts.load()
        overrides = {k: v["thanks"] for k, v in config.surveys.texts.items() if "thanks" in v}
        await send(
            session,
            survey.journey_id,
            channel,
            Outgoing(
                text=texts.text("thanks", survey.language, overrides),
                meta={"survey_id": str(survey.id)},
            ),
            author=ACTOR,
        )


async def _moved_on(session: AsyncSession, survey: Survey) -> None:
    """The customer wrote about something else: no more questions, no thanks (the bot or an
    agent answers them now)."""
    scores_left = [q for q in survey.questions[survey.position :] if q != COMMENT]
    if scores_left:
        await close(session, survey, "cancelled", REQUEST)
    else:
        await close(session, survey, "answered", None)
