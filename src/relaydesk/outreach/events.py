"""Outreach events: each lands on the journey's timeline (sent, or skipped with the reason)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from relaydesk.bus import DomainEvent


class UpdatePlanned(DomainEvent):
    """The journey waits on the company; the next proactive update is due at ``next_at``."""

    name: ClassVar[str] = "outreach.update_planned"
    next_at: datetime
    custom_text: bool
    reason: str | None = None


class UpdateSent(DomainEvent):
    name: ClassVar[str] = "outreach.update_sent"
    message_id: uuid.UUID
    channel: str
    next_at: datetime


class UpdateSkipped(DomainEvent):
    name: ClassVar[str] = "outreach.update_skipped"
    reason: str
    next_at: datetime


class NotificationScheduled(DomainEvent):
    name: ClassVar[str] = "outreach.notification_scheduled"
    notification_id: uuid.UUID
    template: str
    send_at: datetime


class NotificationSent(DomainEvent):
    name: ClassVar[str] = "outreach.notification_sent"
    notification_id: uuid.UUID
    message_id: uuid.UUID
    channel: str


class NotificationSkipped(DomainEvent):
    name: ClassVar[str] = "outreach.notification_skipped"
    notification_id: uuid.UUID
    reason: str


class NotificationCancelled(DomainEvent):
    name: ClassVar[str] = "outreach.notification_cancelled"
    notification_id: uuid.UUID


class SurveyScheduled(DomainEvent):
    name: ClassVar[str] = "outreach.survey_scheduled"
    survey_id: uuid.UUID
    ask_at: datetime


class SurveySkipped(DomainEvent):
    name: ClassVar[str] = "outreach.survey_skipped"
    survey_id: uuid.UUID
    reason: str


class SurveyAsked(DomainEvent):
    name: ClassVar[str] = "outreach.survey_asked"
    survey_id: uuid.UUID
    question: str
    message_id: uuid.UUID


class SurveyAnswered(DomainEvent):
    """One answer (a score, or the comment) read from the customer's message."""

    name: ClassVar[str] = "outreach.survey_answered"
    survey_id: uuid.UUID
    question: str
    score: int | None
    message_id: uuid.UUID


class SurveyClosed(DomainEvent):
    name: ClassVar[str] = "outreach.survey_closed"
    survey_id: uuid.UUID
    status: str
