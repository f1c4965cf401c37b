"""Outreach API input and output."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NotificationIn(_In):
    customer_id: uuid.UUID
    template: Annotated[str, Field(min_length=1, max_length=100)]
    send_at: AwareDatetime | None = None
    """With a time zone; omitted: now."""
    channel: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """A channel name; omitted: the customer's preferred (latest written) channel."""
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}([-_][A-Za-z]{2,4})?$")] | None = None
    """Omitted: the customer's language."""
    variables: dict[
        Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=1000)]
    ] = Field(default_factory=dict)


class NotificationOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    template: str
    channel: str | None
    language: str | None
    variables: dict[str, str]
    send_at: datetime
    status: str
    reason: str | None
    detail: str | None
    sent_channel: str | None
    journey_id: uuid.UUID | None
    message_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class NextUpdateIn(_In):
    at: AwareDatetime | None = None
    """When the next update goes (shifted into the customer's daytime); omitted: the cadence."""
    text: Annotated[str, Field(min_length=1, max_length=1600)] | None = None
    """The next update's own text; ``{next_update}`` becomes the following update's time."""
    reason: Annotated[str, Field(max_length=200)] | None = None
    """What the company is doing (investigation, refund, repair), for the timeline."""


class NextUpdateOut(BaseModel):
    journey_id: uuid.UUID
    status: str
    next_at: datetime | None
    text: str | None
    interval_seconds: int | None
    sent_count: int
    last_sent_at: datetime | None
    last_result: str | None


class SurveyOut(BaseModel):
    id: uuid.UUID
    journey_id: uuid.UUID
    customer_id: uuid.UUID
    channel: str | None
    language: str
    intent: str | None
    resolved_by: str
    agent_id: uuid.UUID | None
    questions: list[str]
    position: int
    status: str
    reason: str | None
    comment: str | None
    answers: dict[str, int]
    ask_at: datetime
    asked_at: datetime | None
    answered_at: datetime | None
