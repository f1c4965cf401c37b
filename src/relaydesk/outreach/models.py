"""Outreach tables: scheduled notifications, a journey's proactive-update plan, surveys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from relaydesk.db import Base, new_id


class Notification(Base):
    """A reminder or confirmation to send a customer at a time (``POST /api/v1/notifications``)."""

    __tablename__ = "outreach_notifications"
    __table_args__ = (Index("ix_outreach_notifications_customer", "customer_id", "send_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    template: Mapped[str] = mapped_column(String(100))
    """A key of ``outreach.notifications.templates`` in the workspace file."""
    channel: Mapped[str | None] = mapped_column(String(100))
    """Asked for by the caller; None: the customer's preferred (latest written) channel."""
    language: Mapped[str | None] = mapped_column(String(35))
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    send_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    """scheduled → sent | skipped | cancelled"""
    reason: Mapped[str | None] = mapped_column(String(32))
    """Why it was skipped: opted_out, window_closed, no_address, … (the reply path's codes)."""
    detail: Mapped[str | None] = mapped_column(Text)
    sent_channel: Mapped[str | None] = mapped_column(String(100))
    journey_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("journeys.id"))
    message_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("messages.id"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class UpdatePlan(Base):
    """The next proactive status update of a journey waiting on the company."""

    __tablename__ = "outreach_update_plans"

    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id"), primary_key=True)
    next_at: Mapped[datetime]
    """When the next update is due (shifted into the customer's daytime when it fires)."""
    text: Mapped[str | None] = mapped_column(Text)
    """An agent's own text for the next update; None: the workspace text in their language."""
    interval_seconds: Mapped[int]
    set_by: Mapped[str] = mapped_column(String(200))
    sent_count: Mapped[int] = mapped_column(default=0)
    last_sent_at: Mapped[datetime | None]
    last_result: Mapped[str | None] = mapped_column(String(32))
    """sent, or the reason of the last skip."""
    updated_at: Mapped[datetime]


class Survey(Base):
    """A survey after resolution, asked one question at a time where the journey ended."""

    __tablename__ = "outreach_surveys"
    __table_args__ = (
        Index("ix_outreach_surveys_customer", "customer_id", "created_at"),
        Index("ix_outreach_surveys_open", "customer_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    """The ``JourneyResolved`` event it answers (a retried listener creates nothing twice)."""
    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id"), index=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str | None] = mapped_column(String(100))
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("conversations.id"))
    language: Mapped[str] = mapped_column(String(35))
    intent: Mapped[str | None] = mapped_column(String(100))
    resolved_by: Mapped[str] = mapped_column(String(16))
    """bot | person"""
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id"))
    questions: Mapped[list[str]] = mapped_column(default=list)
    """Question keys in order (ces, csat, nps, ves_confidence, ves_understanding, comment)."""
    position: Mapped[int] = mapped_column(default=0)
    """Index of the question being asked now."""
    status: Mapped[str] = mapped_column(String(16))
    """scheduled → asking → answered | expired | skipped (reason) | cancelled"""
    reason: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    ask_at: Mapped[datetime]
    asked_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SurveyAnswer(Base):
    """One scored answer, with what the summary groups by (copied from the survey)."""

    __tablename__ = "outreach_survey_answers"
    __table_args__ = (Index("ix_outreach_survey_answers_metric", "metric", "answered_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outreach_surveys.id"), index=True)
    question: Mapped[str] = mapped_column(String(40))
    metric: Mapped[str] = mapped_column(String(8))
    """ces | csat | nps | ves"""
    score: Mapped[int]
    message_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("messages.id"))
    channel: Mapped[str] = mapped_column(String(100))
    intent: Mapped[str | None] = mapped_column(String(100))
    resolved_by: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id"))
    answered_at: Mapped[datetime]
