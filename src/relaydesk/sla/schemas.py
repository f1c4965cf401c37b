"""The workspace file's ``sla:`` section and the SLA part of a journey's API view."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relaydesk.sla.calendar import BusinessCalendar
from relaydesk.workspace.config import parse_duration

NAME = r"^[a-z0-9][a-z0-9_-]{0,99}$"
CLOCK_KINDS = ("first_response", "next_response", "resolution")
PRIORITIES = ("low", "normal", "high", "urgent")
WARNING_ACTIONS = ("raise_priority", "notify_assignee", "notify_supervisor")
BREACH_ACTIONS = ("raise_priority", "notify_assignee", "notify_supervisor", "reoffer")
ClockKind = Literal["first_response", "next_response", "resolution"]
WarningAction = Literal["raise_priority", "notify_assignee", "notify_supervisor"]
BreachAction = Literal["raise_priority", "notify_assignee", "notify_supervisor", "reoffer"]


def _warning_default() -> list[WarningAction]:
    return ["raise_priority", "notify_assignee"]


def _breach_default() -> list[BreachAction]:
    return ["reoffer", "notify_supervisor"]


ClockStatus = Literal["due", "paused", "met", "breached"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HolidaySpec(_Strict):
    country: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}$")]
    subdivision: str | None = None


class CalendarSpec(_Strict):
    """Opening hours in a time zone, minus public holidays and extra closed dates."""

    name: Annotated[str, Field(pattern=NAME)]
    timezone: str = "UTC"
    hours: dict[str, list[str]]
    holidays: HolidaySpec | None = None
    closed: list[date] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)
    """Journeys of these teams (queued for the team, or held by a member) use this calendar."""

    @model_validator(mode="after")
    def _valid(self) -> CalendarSpec:
        self.business_calendar()  # ValueError names the bad value
        return self

    def business_calendar(self) -> BusinessCalendar:
        return BusinessCalendar.create(
            timezone=self.timezone,
            hours=self.hours,
            country=self.holidays.country.upper() if self.holidays else None,
            subdivision=self.holidays.subdivision if self.holidays else None,
            closed=self.closed,
        )


class EscalationSpec(_Strict):
    """What happens at ``warn_at`` of a clock's target, and at its breach."""

    warn_at: Annotated[float, Field(gt=0, lt=1)] = 0.75
    on_warning: list[WarningAction] = Field(default_factory=_warning_default)
    on_breach: list[BreachAction] = Field(default_factory=_breach_default)
    escalate_to: Annotated[str, Field(pattern=NAME)] | None = None
    """The team a breached journey is re-offered to (else another agent, anyone)."""


class MatchSpec(_Strict):
    """Every field given must match (lists: any of); an empty match takes every journey."""

    priorities: list[Literal["low", "normal", "high", "urgent"]] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    intents: list[str] = Field(default_factory=list)
    """Matches the journey's intent or one of its signals (``complaint``, ``churn_risk``)."""
    tiers: list[str] = Field(default_factory=list)
    min_value: Annotated[float, Field(ge=0)] | None = None

    @field_validator("channels", "intents")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", item):
                raise ValueError(f"{item!r}: not a channel or intent name")
        return value

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: list[str]) -> list[str]:
        return [tier.lower() for tier in value]


def _target(value: Any) -> timedelta | None:
    if value is None:
        return None
    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise ValueError("a target must be longer than zero")
    return duration


class PolicySpec(_Strict):
    name: Annotated[str, Field(pattern=NAME)]
    match: MatchSpec = Field(default_factory=MatchSpec)
    first_response: timedelta | None = None
    next_response: timedelta | None = None
    resolution: timedelta | None = None
    """Targets in business time (8h is one working day of 09:00-17:00)."""
    calendar: Annotated[str, Field(pattern=NAME)] | None = None
    """Overrides the team's calendar and the default."""
    escalation: EscalationSpec | None = None
    """Defaults to the section's ``escalation``."""

    _targets = field_validator("first_response", "next_response", "resolution", mode="before")(
        _target
    )

    @model_validator(mode="after")
    def _some_target(self) -> PolicySpec:
        if not any(self.target(kind) for kind in CLOCK_KINDS):
            raise ValueError("give at least one of first_response, next_response, resolution")
        return self

    def target(self, kind: str) -> timedelta | None:
        value: timedelta | None = getattr(self, kind)
        return value


class SlaConfig(_Strict):
    """The ``sla:`` section: the first policy whose ``match`` fits a journey sets its clocks."""

    default_calendar: Annotated[str, Field(pattern=NAME)] | None = None
    calendars: list[CalendarSpec] = Field(default_factory=list)
    escalation: EscalationSpec = Field(default_factory=EscalationSpec)
    policies: list[PolicySpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> SlaConfig:
        sections: tuple[tuple[str, list[str]], ...] = (
            ("calendars", [c.name for c in self.calendars]),
            ("policies", [p.name for p in self.policies]),
        )
        for section, names in sections:
            seen: set[str] = set()
            for index, name in enumerate(names):
                if name in seen:
                    raise ValueError(f"{section}.{index}.name: {name!r} appears twice")
                seen.add(name)
        calendars = {c.name for c in self.calendars}
        if self.default_calendar is not None and self.default_calendar not in calendars:
            raise ValueError(f"default_calendar: no calendar named {self.default_calendar!r}")
        for index, policy in enumerate(self.policies):
            if policy.calendar is not None and policy.calendar not in calendars:
                raise ValueError(
                    f"policies.{index}.calendar: no calendar named {policy.calendar!r}"
                )
        teams: dict[str, str] = {}
        for index, calendar in enumerate(self.calendars):
            for team in calendar.teams:
                if team in teams:
                    raise ValueError(
                        f"calendars.{index}.teams: team {team!r} already uses calendar "
                        f"{teams[team]!r}"
                    )
                teams[team] = calendar.name
        return self

    @cached_property
    def business_calendars(self) -> dict[str, BusinessCalendar]:
        return {c.name: c.business_calendar() for c in self.calendars}

    def team_calendar(self, team: str) -> str | None:
        for calendar in self.calendars:
            if team in calendar.teams:
                return calendar.name
        return None

    def escalation_of(self, policy: PolicySpec) -> EscalationSpec:
        return policy.escalation or self.escalation


class ClockOut(BaseModel):
    kind: ClockKind
    policy: str
    calendar: str
    target_seconds: float
    started_at: datetime
    due_at: datetime | None = Field(description="None while paused (see remaining_seconds)")
    status: ClockStatus
    met_at: datetime | None
    breached_at: datetime | None
    remaining_seconds: float | None = Field(
        description="Business seconds left when paused (waiting on the customer, with the bot)"
    )


class EscalationOut(BaseModel):
    at: datetime
    clock: ClockKind
    rule: Literal["warning", "breach"]
    policy: str
    actions: list[str]
    notified: list[uuid.UUID]
    team: str | None


class SlaOut(BaseModel):
    policy: str | None = Field(description="The policy that set the clocks")
    clocks: list[ClockOut]
    escalations: list[EscalationOut]
