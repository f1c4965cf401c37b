"""The declarative workspace file, as Pydantic models (the single source of its rules)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from relaydesk.bot.schemas import BotSpec
from relaydesk.canned.schemas import CannedReplySpec
from relaydesk.channels.registry import adapter_class
from relaydesk.console.schemas import ContextProviderSpec, unique_provider_names
from relaydesk.kb.schemas import KnowledgeBaseSpec
from relaydesk.outreach.config import OutreachConfig
from relaydesk.routing.schemas import RoutingConfig
from relaydesk.sla.schemas import SlaConfig
from relaydesk.workspace.config import WorkspaceConfig

NAME = r"^[a-z0-9][a-z0-9_-]{0,99}$"
SECRET_KEYS = frozenset(
    {
        "auth_token",
        "access_token",
        "app_secret",
        "verify_token",
        "page_access_token",
        "bot_token",
        "secret_token",
        "smtp_password",
        "imap_password",
        "password",
        "api_key",
    }
)
SECRET_SUFFIXES = ("_secret", "_token", "_password", "_key")


def is_secret_setting(key: str) -> bool:
    return key in SECRET_KEYS or key.endswith(SECRET_SUFFIXES)


ENV_REFERENCE = re.compile(r"^env:[A-Za-z_][A-Za-z0-9_]*$")
CHANNEL_CLASSES = ("voice", "chat", "messaging", "email")
DEFAULT_CAPACITY = {"voice": 1, "chat": 3, "messaging": 4, "email": 5}
"""Concurrent conversations per channel class; an agent's load weight is 1 / capacity."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelSpec(_Strict):
    name: Annotated[str, Field(pattern=NAME)]
    kind: str
    display_name: str | None = None
    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        adapter_class(value)  # ValueError names the known kinds
        return value

    @field_validator("settings")
    @classmethod
    def _settings_fit_kind(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind = info.data.get("kind")
        if kind is None:
            return value  # the kind itself is already reported
        for key, item in value.items():
            if is_secret_setting(key) and not (isinstance(item, str) and ENV_REFERENCE.match(item)):
                raise ValueError(
                    f"{key}: a secret; write a reference like env:MY_SECRET, never the value"
                )
        try:
            adapter_class(kind).Config.model_validate(value)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"{where}: {first['msg']}") from None
        return value


class TeamSpec(_Strict):
    name: Annotated[str, Field(pattern=NAME)]
    description: str | None = None


def check_skill_name(name: str) -> str:
    """A skill is a topic routing matches by name (often an intent's id): named like a team."""
    if not re.match(NAME, name):
        raise ValueError(
            f"a skill name is lower-case letters, digits, - and _ (at most 100; got {name!r})"
        )
    return name


class AgentSpec(_Strict):
    email: str
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Literal["agent", "supervisor", "admin"] = "agent"
    teams: list[str] = Field(default_factory=list)
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]] = Field(default_factory=list)
    skills: dict[str, Annotated[int, Field(ge=1, le=3)]] = Field(default_factory=dict)
    capacity: dict[str, Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=lambda: dict(DEFAULT_CAPACITY)
    )
    active: bool = True

    @field_validator("skills")
    @classmethod
    def _skill_names(cls, value: dict[str, int]) -> dict[str, int]:
        for name in value:
            check_skill_name(name)
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        from relaydesk.customers.identities import InvalidIdentity, normalize_email

        try:
            return normalize_email(value)
        except InvalidIdentity as exc:
            raise ValueError(exc.reason) from None

    @field_validator("capacity")
    @classmethod
    def _capacity(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(CHANNEL_CLASSES))
        if unknown:
            raise ValueError(
                f"unknown channel class {unknown[0]!r} (use {', '.join(CHANNEL_CLASSES)})"
            )
        return {**DEFAULT_CAPACITY, **value}


class WorkspaceSpec(_Strict):
    version: Literal[1] = 1
    settings: WorkspaceConfig | None = None
    channels: list[ChannelSpec] = Field(default_factory=list)
    teams: list[TeamSpec] = Field(default_factory=list)
    agents: list[AgentSpec] = Field(default_factory=list)
    knowledge_base: KnowledgeBaseSpec = Field(default_factory=KnowledgeBaseSpec)
    routing: RoutingConfig | None = None
    sla: SlaConfig | None = None
    outreach: OutreachConfig | None = None
    bot: BotSpec | None = None
    context_providers: list[ContextProviderSpec] | None = None
    """The customer panel's data from the operator's own systems (docs/workspace.md)."""
    canned_replies: list[CannedReplySpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> WorkspaceSpec:
        for section, key in (
            ("channels", "name"),
            ("teams", "name"),
            ("agents", "email"),
            ("canned_replies", "name"),
        ):
            seen: set[str] = set()
            for index, item in enumerate(getattr(self, section)):
                value = getattr(item, key)
                if value in seen:
                    raise ValueError(f"{section}[{index}].{key}: {value!r} appears twice")
                seen.add(value)
        unique_provider_names(self.context_providers or [])
        return self
