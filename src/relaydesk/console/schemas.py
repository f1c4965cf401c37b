"""The workspace file's ``context_providers:`` section: HTTP JSON endpoints of the operator's
own systems whose answers the console shows in the customer panel (console/context.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = r"^[a-z0-9][a-z0-9_-]{0,99}$"
ENV_REFERENCE = re.compile(r"^env:[A-Za-z_][A-Za-z0-9_]*$")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
CUSTOMER_FIELDS = ("id", "email", "phone", "name", "country", "locale")
"""What a URL template may carry: ``{customer.email}`` and so on (URL-encoded)."""
SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|key|auth|password", re.I)
MAX_TIMEOUT = 10.0
PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


def _seconds(value: Any) -> float:
    from relaydesk.workspace.config import parse_duration  # the workspace imports this module

    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("a duration like 2s, or a number of seconds")
        return float(value)
    seconds: float = parse_duration(value).total_seconds()
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContextFieldSpec(_Strict):
    path: str
    """Where the value is in the JSON answer: ``tier``, ``orders.0.status`` (dots and indices)."""
    label: Annotated[str, Field(min_length=1, max_length=80)]

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not PATH.match(value):
            raise ValueError("a dotted path into the JSON answer, such as orders.0.status")
        return value


class ContextProviderSpec(_Strict):
    name: Annotated[str, Field(pattern=NAME)]
    title: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    """The heading in the customer panel (default: the name)."""
    url: str
    """``https://crm.example.com/customers/{customer.email}``; placeholders are URL-encoded."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Secret-looking headers (Authorization, *token*, *key* …) must be ``env:NAME``."""
    timeout: float = 2.0
    """Seconds (or ``2s``); the page never waits longer for this provider (at most 10 s)."""
    cache_ttl: float = 60.0
    """How long an answer is reused for the same customer (``0`` to never cache)."""
    fields: list[ContextFieldSpec] = Field(min_length=1, max_length=30)

    @field_validator("timeout", "cache_ttl", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return _seconds(value)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        if not 0 < value <= MAX_TIMEOUT:
            raise ValueError(f"between 0 and {MAX_TIMEOUT:g} seconds")
        return value

    @field_validator("cache_ttl")
    @classmethod
    def _ttl(cls, value: float) -> float:
        if value > timedelta(days=1).total_seconds():
            raise ValueError("at most a day (1d)")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/{}\s]+", value):
            raise ValueError(
                "an http:// or https:// address whose host is fixed (no {placeholder})"
            )
        for placeholder in PLACEHOLDER.findall(value):
            scope, _, field = placeholder.partition(".")
            if scope != "customer" or field not in CUSTOMER_FIELDS:
                known = ", ".join("{customer." + f + "}" for f in CUSTOMER_FIELDS)
                raise ValueError(f"unknown placeholder {{{placeholder}}} (use {known})")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, item in value.items():
            if not re.fullmatch(r"[A-Za-z0-9-]{1,100}", name):
                raise ValueError(f"{name!r} is not a header name")
            if not isinstance(item, str):
                raise ValueError(f"{name}: a text value")
            if SECRET_HEADER.search(name) and not ENV_REFERENCE.match(item):
                raise ValueError(
                    f"{name}: a secret; write a reference like env:MY_SECRET, never the value"
                )
            if item.startswith("env:") and not ENV_REFERENCE.match(item):
                raise ValueError(f"{name}: env: references look like env:MY_SECRET")
        return value

    @model_validator(mode="after")
    def _title(self) -> ContextProviderSpec:
        if self.title is None:
            self.title = self.name.replace("_", " ").replace("-", " ").capitalize()
        return self


def unique_provider_names(providers: list[ContextProviderSpec]) -> None:
    seen: set[str] = set()
    for index, provider in enumerate(providers):
        if provider.name in seen:
            raise ValueError(f"context_providers[{index}].name: {provider.name!r} appears twice")
        seen.add(provider.name)
