"""API shapes for messages and journeys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from relaydesk.routing.schemas import RoutingOut
from relaydesk.sla.schemas import SlaOut


class SenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(None, description="Case-folded; links customers across channels")
    phone: str | None = Field(None, description="Normalised to E.164; +country or national")
    handle: Annotated[str, Field(min_length=1, max_length=300)] | None = Field(
        None, description="The integration's own id for this person (scoped to the channel)"
    )
    name: Annotated[str, Field(max_length=200)] | None = None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="Name of an `api` channel from the workspace"
    )
    external_id: Annotated[str, Field(min_length=1, max_length=300)] = Field(
        description="Your id for this message; sending it again is a no-op (idempotency key)"
    )
    sender: SenderIn
    text: Annotated[str, Field(min_length=1)] = Field(
        description="The message; longer than the configured limit (32,768 characters by "
        "default, RELAYDESK_MAX_TEXT_LENGTH) is refused with 413"
    )
    sent_at: AwareDatetime | None = Field(None, description="When the customer sent it")
    thread: Annotated[str, Field(max_length=300)] | None = Field(
        None, description="Keep separate threads on one channel apart (default: one thread)"
    )
    context: dict[str, Any] | None = Field(
        None, description="Facts you already know (e.g. order_number); merged into the journey"
    )

    @field_validator("text")
    @classmethod
    def _says_something(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is only whitespace: nothing for anyone to answer")
        return value


class MessageAccepted(BaseModel):
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    journey_id: uuid.UUID
    customer_id: uuid.UUID
    duplicate: bool


class OwnerOut(BaseModel):
    type: Literal["unassigned", "bot", "queue", "agent"]
    agent_id: uuid.UUID | None = None


class ConversationOut(BaseModel):
    id: uuid.UUID
    channel: str
    channel_kind: str
    thread: str | None
    status: str
    created_at: datetime
    last_message_at: datetime
    closed_at: datetime | None


class JourneyOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    status: str
    channels: list[str] = Field(description="Channels used, in the order the customer used them")
    conversations: list[ConversationOut]
    context: dict[str, Any]
    owner: OwnerOut
    outcome: str | None
    created_at: datetime
    last_activity_at: datetime
    resolved_at: datetime | None
    reopen_count: int
    handoff: dict[str, Any] | None = Field(
        None,
        description="The bot's handoff package when it stepped aside: summary, reason, intent "
        "and confidence, facts, sentiment, articles offered, transcript reference",
    )
    routing: RoutingOut | None = Field(
        None,
        description="The latest routing decision: bot, queue or agent, the policy and reason, "
        "the journey's value and a readable explanation, and the inputs it was made from",
    )
    sla: SlaOut | None = Field(
        None,
        description="SLA clocks (first response, next response, resolution) with due times and "
        "status, the policy that set them, and the escalations so far",
    )


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Annotated[str, Field(min_length=1, max_length=32)] = "resolved"


class TimelineItem(BaseModel):
    message_id: uuid.UUID
    channel: str
    channel_kind: str
    conversation_id: uuid.UUID
    journey_id: uuid.UUID
    direction: Literal["inbound", "outbound"]
    author: str
    text: str
    created_at: datetime
    delivery_status: str | None


class Timeline(BaseModel):
    items: list[TimelineItem]
    next_cursor: str | None = Field(None, description="Pass as `after` for the next page")


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=32_768)]
    channel: str | None = Field(
        None, description="Reply on this channel (default: where the customer wrote last)"
    )
    author_type: Literal["agent", "bot", "system"] = "agent"
    author_id: Annotated[str, Field(max_length=100)] | None = None
    buttons: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=10
    )
    template: dict[str, Any] | None = Field(
        None, description="An approved template, for channels with a reply window"
    )
    tag: str | None = Field(None, description="A provider message tag such as HUMAN_AGENT")


class MessageOut(BaseModel):
    id: uuid.UUID
    journey_id: uuid.UUID
    conversation_id: uuid.UUID
    customer_id: uuid.UUID
    channel: str
    direction: Literal["inbound", "outbound"]
    author: str
    text: str
    external_id: str | None
    created_at: datetime
    sent_at: datetime | None
    delivery_status: str | None
    delivery_error_code: str | None
    delivery_error: str | None
    delivery_updated_at: datetime | None
