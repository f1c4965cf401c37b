"""The workspace file's ``outreach:`` section: daytime, proactive updates, notification
templates and surveys. Every field has a working default; stored as one workspace setting."""

from __future__ import annotations

import string
from datetime import time, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from relaydesk.workspace.config import parse_duration

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
NAME = r"^[a-z0-9][a-z0-9_-]{0,99}$"
METRICS = ("ces", "csat", "nps", "ves")
"""Survey metrics; ``ves`` asks its two statements (confidence, understanding)."""
SURVEY_TEXTS = ("ces", "csat", "nps", "ves_confidence", "ves_understanding", "comment", "thanks")
"""The survey texts a workspace may override (questions, the comment invitation, thanks)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a text; ValueError when it is not a valid format string."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise ValueError(
            f"{text!r}: {exc} (write {{name}} for a variable, {{{{ for a brace)"
        ) from None


def _check_text(label: str, text: str) -> None:
    names = placeholders(text)
    for name in names:
        if not name.isidentifier():
            raise ValueError(f"{label}: {{{name}}} is not a variable name")
    try:  # variables are always texts: a format like {amount:.2f} could never be filled
        text.format_map(dict.fromkeys(names, "x"))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{label}: {text!r} cannot be filled ({exc}); write {{name}}") from None


def _check_texts(texts: dict[str, str]) -> dict[str, str]:
    for language, text in texts.items():
        if not text.strip():
            raise ValueError(f"{language}: empty text")
        _check_text(language, text)
    return texts


class Daytime(_Strict):
    """When a customer may be written to, in their own time zone."""

    start: time = time(9, 0)
    end: time = time(20, 0)
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(default=[1, 2, 3, 4, 5, 6, 7])
    """ISO weekdays, 1 = Monday."""

    @model_validator(mode="after")
    def _order(self) -> Daytime:
        if self.end <= self.start:
            raise ValueError("daytime.end must be after daytime.start")
        if not self.days:
            raise ValueError("daytime.days: name at least one weekday")
        return self


class TemplateRef(_Strict):
    """A WhatsApp (or other provider) template for sends outside the reply window."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    params: list[str] = Field(default_factory=list)
    """Body variables {{1}}, {{2}}, … in order, each a text with {variables}."""
    language: str | None = None

    @field_validator("params")
    @classmethod
    def _params(cls, value: list[str]) -> list[str]:
        for index, param in enumerate(value):
            _check_text(f"params.{index}", param)
        return value


class UpdatesConfig(_Strict):
    enabled: bool = True
    every: Duration = timedelta(days=2)
    """Cadence when neither the intent nor the priority names one."""
    intents: dict[str, Duration] = Field(default_factory=dict)
    priorities: dict[str, Duration] = Field(default_factory=dict)
    """By ``context.priority`` of the journey (low, normal, high, urgent, …)."""
    texts: dict[Language, str] = Field(default_factory=dict)
    """Override the built-in text per language; ``{next_update}`` is the localized time."""
    templates: dict[str, TemplateRef] = Field(default_factory=dict)
    """By channel name or kind: the template sent when the channel's window is closed."""
    skip_if_person_wrote: bool = True

    @field_validator("texts")
    @classmethod
    def _texts(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_texts(value)

    @field_validator("every")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=5):
            raise ValueError("at least 5m")
        return value


class ChannelTemplate(_Strict):
    texts: dict[Language, str] = Field(default_factory=dict)
    """Texts for this channel (e.g. shorter for SMS), by language."""
    template: TemplateRef | None = None
    """Sent when the channel's window is closed (WhatsApp: an approved template)."""

    @field_validator("texts")
    @classmethod
    def _texts(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_texts(value)


class NotificationTemplate(_Strict):
    kind: Literal["appointment", "renewal", "delivery", "reminder", "confirmation", "other"]
    texts: dict[Language, str]
    """The default text by language; variables as {name}."""
    channels: dict[str, ChannelTemplate] = Field(default_factory=dict)
    """By channel name or kind (``twilio_sms``, ``whatsapp_cloud``; anything else is refused
    when applied): texts and templates for that channel."""
    purpose: Literal["service", "marketing"] = "service"
    """``marketing`` also honours a marketing-only opt-out."""

    @field_validator("texts")
    @classmethod
    def _texts(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("give the text in at least one language")
        return _check_texts(value)

    def variables(self) -> set[str]:
        names: set[str] = set()
        for text in self.texts.values():
            names |= placeholders(text)
        for channel in self.channels.values():
            for text in channel.texts.values():
                names |= placeholders(text)
            if channel.template is not None:
                for param in channel.template.params:
                    names |= placeholders(param)
        return names


class NotificationsConfig(_Strict):
    templates: dict[Annotated[str, Field(pattern=NAME)], NotificationTemplate] = Field(
        default_factory=dict
    )
    respect_daytime: bool = False
    """Shift notifications into the customer's daytime (off: a reminder goes when asked)."""


class SurveysConfig(_Strict):
    enabled: bool = False
    delay: Duration = timedelta(hours=1)
    """After resolution (shifted into the customer's daytime)."""
    sample: Annotated[float, Field(ge=0, le=1)] = 1.0
    """Share of resolved journeys that get a survey."""
    cooldown: Duration = timedelta(days=30)
    """At most one survey per customer in this time."""
    metrics: list[Literal["ces", "csat", "nps", "ves"]] = Field(default=["ces", "ves"])
    comment: bool = True
    """Ask for a free-text comment after the last score."""
    expire_after: Duration = timedelta(days=3)
    """A question not answered in this time closes the survey (answers so far are kept)."""
    skip_outcomes: list[str] = Field(default=["spam", "duplicate", "notified"])
    texts: dict[Language, dict[str, str]] = Field(default_factory=dict)
    """Override built-in question texts per language: {en: {ces: "…"}}."""

    @field_validator("texts")
    @classmethod
    def _text_keys(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for language, texts in value.items():
            for key, text in texts.items():
                if key not in SURVEY_TEXTS:
                    raise ValueError(
                        f"{language}.{key}: not a survey text (use {', '.join(SURVEY_TEXTS)})"
                    )
                if not text.strip():
                    raise ValueError(f"{language}.{key}: empty text")
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one of ces, csat, nps, ves")
        if len(set(value)) != len(value):
            raise ValueError("a metric appears twice")
        return value


class OutreachConfig(_Strict):
    daytime: Daytime = Daytime()
    updates: UpdatesConfig = UpdatesConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    surveys: SurveysConfig = SurveysConfig()


def stored_form(config: OutreachConfig) -> dict[str, Any]:
    """JSON-ready, as the file declared it (durations in seconds, times as HH:MM:SS)."""

    def plain(value: Any) -> Any:
        if isinstance(value, timedelta):
            return value.total_seconds()
        if isinstance(value, time):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    result: dict[str, Any] = plain(config.model_dump(exclude_unset=True))
    return result
