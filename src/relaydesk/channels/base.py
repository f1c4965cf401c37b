"""What every channel driver provides, and the normalised objects it produces.

Adapters translate between a provider and these objects; they never touch the database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from relaydesk.customers.identities import IdentityKey


@dataclass(frozen=True)
class Sender:
    """The sender as the channel knows them: asserted identities and unverified claims."""

    identities: tuple[tuple[IdentityKey, str], ...]
    """(identity, assurance) pairs asserted by the provider or a trusted integration."""
    claims: tuple[IdentityKey, ...] = ()
    name: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One customer message, normalised; carries enough to route the reply back."""

    channel: str
    external_id: str
    sender: Sender
    text: str
    sent_at: datetime | None = None
    thread_key: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    """Facts the channel already knows (e.g. an order number from the integration)."""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    buttons: bool = False
    attachments: bool = False
    typing: bool = False
    max_text_length: int | None = None
    channel_class: str = "messaging"
    """How an agent's capacity counts it: voice, chat, messaging or email."""


class ChannelConfig(BaseModel):
    """Base for each kind's settings in the workspace file; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class ChannelAdapter(ABC):
    """A driver for one kind of channel (separate from the channel record that configures it)."""

    kind: ClassVar[str]
    Config: ClassVar[type[ChannelConfig]]
    capabilities: ClassVar[Capabilities]

    def __init__(self, name: str, config: ChannelConfig) -> None:
        self.name = name
        self.config = config

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Non-secret facts shown to operators (e.g. the address customers write to)."""
