"""Operator settings from the environment (``RELAYDESK_*``); fail fast on bad values.

Workspace configuration (channels, teams, agents, ...) lives in the database instead; see
``workspace/``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///relaydesk.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RELAYDESK_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    public_url: str | None = None
    redis_url: str | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    run_worker: bool = True
    """Run the outbox worker inside the web process (the default for one-process installs)."""
    worker_poll_interval: Annotated[float, Field(gt=0, le=60)] = 0.5
    max_text_length: Annotated[int, Field(ge=1, le=1_000_000)] = 32_768
    """Longest message text accepted, in characters; longer is refused with 413."""
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    """Largest request body accepted, in bytes; larger is refused with 413."""
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = 10
    secret_key: SecretStr | None = None
    """Signs tokens given to browsers; set the same value on every instance (≥ 32 chars)."""

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        from relaydesk.db import normalize_database_url

        normalize_database_url(value)  # raises ValueError with a clear message
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute_public_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s) URL, e.g. https://support.example.com")
        return value.rstrip("/") if value else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
