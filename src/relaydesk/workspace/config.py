"""Workspace-wide settings with their defaults, as the rest of the hub reads them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.workspace.models import WorkspaceSetting

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: Any) -> timedelta:
    """``"7d"``, ``"36h"``, ``"90m"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    raise ValueError("a duration like 30s, 15m, 36h, 7d or 2w")


Duration = Annotated[timedelta, Field(description="e.g. 30s, 15m, 36h, 7d")]


class WorkspaceConfig(BaseModel):
    """The ``workspace.settings`` section of the workspace file."""

    model_config = ConfigDict(extra="forbid")

    name: str = "Relaydesk"
    currency: str = "EUR"
    timezone: str = "UTC"
    default_country: str | None = None
    """ISO country used to read phone numbers written without +country code."""
    default_language: str = "en"
    journey_window: Duration = timedelta(days=7)
    """A resolved journey is reopened by a new message within this time of resolution."""

    @field_validator("journey_window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError("an ISO 4217 code such as EUR, USD or SEK")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as Europe/Stockholm") from None
        return value

    @field_validator("default_country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("an ISO 3166 two-letter country code such as SE")
        return value


async def load_workspace_config(session: AsyncSession) -> WorkspaceConfig:
    rows = (await session.execute(select(WorkspaceSetting.key, WorkspaceSetting.value))).all()
    return WorkspaceConfig.model_validate(
        {key: value["value"] for key, value in rows if not key.startswith("_")}
    )


def dump_setting(value: Any) -> Any:
    """How a setting is stored: JSON-friendly (durations as seconds)."""
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    return value
