"""The ``routing:`` section of the workspace file, and the routing API's shapes.

One model serves both: the workspace file validates into ``RoutingConfig`` and the pure
router (value, policies, queue, assignment) reads the same object, so the simulator and the
live hub are configured identically.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relaydesk.workspace.config import parse_duration

POLICIES = ("value", "complexity", "bot_first", "human_first")
Policy = Literal["value", "complexity", "bot_first", "human_first"]

FEATURES = (
    "purchase_intent",
    "churn_risk",
    "complaint",
    "negative_sentiment",
    "repeat_contacts",
    "channels_tried",
    "sla_breach",
    "tenure_years",
    "recent_orders",
)
"""Inputs of both propensity models; see docs/routing.md for how each is measured."""

RISK_FEATURES = (
    "churn_risk",
    "complaint",
    "negative_sentiment",
    "repeat_contacts",
    "channels_tried",
    "sla_breach",
)
"""Churn weights that must not be negative, so more trouble never lowers churn risk."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: Any) -> timedelta:
    return parse_duration(value)


class Propensity(_Strict):
    """A logistic model: p = 1 / (1 + exp(-(bias + Σ weight·feature + tier offset)))."""

    bias: float
    weights: dict[str, float] = Field(default_factory=dict)
    tiers: dict[str, float] = Field(default_factory=dict)
    """Offset per customer tier (lower-case tier name)."""

    @field_validator("weights")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(FEATURES))
        if unknown:
            raise ValueError(f"unknown feature {unknown[0]!r} (known: {', '.join(FEATURES)})")
        return value

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: dict[str, float]) -> dict[str, float]:
        return {k.lower(): v for k, v in value.items()}


DEFAULT_CHURN = Propensity(
    bias=-3.2,
    weights={
        "churn_risk": 1.0,
        "complaint": 0.8,
        "negative_sentiment": 1.5,
        "repeat_contacts": 0.35,
        "channels_tried": 0.4,
        "sla_breach": 0.9,
        "tenure_years": -0.12,
        "recent_orders": -0.15,
    },
)
DEFAULT_PURCHASE = Propensity(
    bias=-3.5,
    weights={
        "purchase_intent": 2.6,
        "recent_orders": 0.25,
        "tenure_years": 0.05,
        "negative_sentiment": -0.8,
        "complaint": -0.8,
        "churn_risk": -0.5,
    },
    tiers={"gold": 0.3, "platinum": 0.5, "vip": 0.5},
)


class Coefficients(_Strict):
    churn: Propensity = DEFAULT_CHURN
    purchase: Propensity = DEFAULT_PURCHASE

    @model_validator(mode="after")
    def _risk_not_negative(self) -> Coefficients:
        for name in RISK_FEATURES:
            if self.churn.weights.get(name, 0.0) < 0:
                raise ValueError(
                    f"churn.weights.{name}: must not be negative (more trouble never lowers "
                    "churn risk)"
                )
        return self


class Override(_Strict):
    """Per channel or per intent: another policy or threshold; per intent also the skill."""

    policy: Policy | None = None
    threshold: Annotated[float, Field(ge=0)] | None = None
    skill: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """The agent skill this intent needs (default: a skill named like the intent, if any
    agent has it)."""
    level: Annotated[int, Field(ge=1, le=3)] | None = None
    complex: bool | None = None
    """For the ``complexity`` policy (default: complex unless the bot may resolve it)."""


class RelaxStep(_Strict):
    """After waiting ``after``, require this (``level`` lowers; ``skill``/``language`` any)."""

    after: timedelta
    level: Annotated[int, Field(ge=1, le=3)] | None = None
    skill: Literal["any"] | None = None
    language: Literal["any"] | None = None

    _after = field_validator("after", mode="before")(_duration)


class WaitNotices(_Strict):
    """Telling a queued customer their position and expected wait on their channel."""

    enabled: bool = False
    min_interval: timedelta = timedelta(minutes=2)
    """At most one notice per journey this often (the first one is sent at once)."""
    min_change: Annotated[int, Field(ge=1)] = 3
    """Positions moved since the last notice before another is worth sending."""

    _durations = field_validator("min_interval", mode="before")(_duration)


class RoutingConfig(_Strict):
    """Routing settings; every field has a working default."""

    policy: Policy = "value"
    threshold: Annotated[float, Field(ge=0)] = 100.0
    """In the workspace currency: a journey worth at least this goes to a person."""
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    """Default: the workspace currency (settings.currency)."""
    default_order_value: Annotated[float, Field(ge=0)] = 50.0
    expected_tenure_years: Annotated[float, Field(gt=0)] = 3.0
    """Annual value = lifetime value / this, unless the customer has an explicit one."""
    coefficients: Coefficients = Coefficients()
    channels: dict[str, Override] = Field(default_factory=dict)
    """By channel name."""
    intents: dict[str, Override] = Field(default_factory=dict)
    offer_timeout: timedelta = timedelta(seconds=30)
    auto_accept: bool = False
    """Assign at once instead of offering (no accept step)."""
    auto_away_after: Annotated[int, Field(ge=0)] = 3
    """Missed offers in a row before an agent is set away (0: never)."""
    continuity: timedelta = timedelta(hours=24)
    """How long a returning customer's previous agent is preferred."""
    relaxation: tuple[RelaxStep, ...] = (
        RelaxStep(after=timedelta(seconds=60), level=2),
        RelaxStep(after=timedelta(seconds=120), level=1),
        RelaxStep(after=timedelta(seconds=180), skill="any"),
    )
    value_cap: Annotated[float, Field(gt=0)] = 2000.0
    """Value beyond this adds no queue priority (so aging can always catch up)."""
    aging_per_minute: Annotated[float, Field(gt=0)] = 10.0
    """Queue points per minute waited; value is worth at most 100, SLA urgency 100."""
    sla_horizon: timedelta = timedelta(minutes=30)
    """SLA urgency grows from 0 to 100 points over this time before the due time."""
    average_handle_time: timedelta = timedelta(minutes=6)
    wait_notices: WaitNotices = WaitNotices()

    _durations = field_validator(
        "offer_timeout", "continuity", "sla_horizon", "average_handle_time", mode="before"
    )(_duration)

    @field_validator("relaxation")
    @classmethod
    def _ordered(cls, value: tuple[RelaxStep, ...]) -> tuple[RelaxStep, ...]:
        afters = [step.after for step in value]
        if afters != sorted(afters):
            raise ValueError("relaxation steps must be in order of their 'after'")
        return value

    @field_validator("channels", "intents")
    @classmethod
    def _names(cls, value: dict[str, Override]) -> dict[str, Override]:
        for key in value:
            if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", key):
                raise ValueError(f"{key!r}: not a channel or intent name")
        return value

    def override(self, channel: str | None, intent: str | None) -> tuple[Policy, float]:
        """The policy and threshold in force: intent beats channel beats workspace."""
        policy, threshold = self.policy, self.threshold
        for rule in (self.channels.get(channel or ""), self.intents.get(intent or "")):
            if rule is not None:
                policy = rule.policy or policy
                threshold = rule.threshold if rule.threshold is not None else threshold
        return policy, threshold


# --- API shapes ---------------------------------------------------------------------------


class PresenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    presence: Literal["online", "away", "offline"]


class PresenceOut(BaseModel):
    agent_id: uuid.UUID
    presence: str
    load: float
    requeued: int = Field(description="Pending offers withdrawn because the agent left")


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Literal["agent", "team", "bot"]
    agent_id: uuid.UUID | None = None
    team: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    reason: Annotated[str, Field(min_length=1, max_length=200)] = "transfer"
    forced_by: uuid.UUID | None = Field(
        default=None,
        description="A supervisor's or admin's agent id: assign even over the agent's capacity "
        "(recorded as a routing decision). Without it an agent at capacity is a 409.",
    )

    @model_validator(mode="after")
    def _target(self) -> TransferIn:
        if self.forced_by is not None and self.to != "agent":
            raise ValueError("forced_by only applies to to=agent")
        if (self.to == "agent") != (self.agent_id is not None):
            raise ValueError("agent_id is required for to=agent, and only then")
        if (self.to == "team") != (self.team is not None):
            raise ValueError("team is required for to=team, and only then")
        return self


class TransferOut(BaseModel):
    journey_id: uuid.UUID
    to: str
    outcome: str
    """bot, queue (waiting for the team), or agent"""
    agent_id: uuid.UUID | None
    offer_id: uuid.UUID | None


class QueueItem(BaseModel):
    journey_id: uuid.UUID
    position: int = Field(description="1 = next to be assigned")
    value: float
    priority: float
    waiting_seconds: float
    estimated_wait_seconds: float | None = Field(description="None while nobody is online")
    team: str | None
    offered_to: uuid.UUID | None


class QueueOut(BaseModel):
    currency: str
    items: list[QueueItem]
    online_agents: int


class OfferOut(BaseModel):
    id: uuid.UUID
    journey_id: uuid.UUID
    agent_id: uuid.UUID
    status: str
    expires_at: datetime | None


class RoutingOut(BaseModel):
    """The latest routing decision of a journey, as shown under ``routing``."""

    decision: str
    agent_id: uuid.UUID | None
    policy: str
    reason: str
    value: float
    currency: str
    explanation: str
    decided_at: datetime
    inputs: dict[str, Any]
