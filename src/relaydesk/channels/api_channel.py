"""The API channel: any system that can POST JSON becomes a channel (a trusted integration)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from relaydesk.channels.base import Capabilities, ChannelAdapter, ChannelConfig, Sender
from relaydesk.customers.identities import Assurance, IdentityKey, identity_key


class ApiChannelConfig(ChannelConfig):
    identity_assurance: Literal["trusted", "claimed"] = "trusted"
    """``trusted``: the caller vouches for email and phone, so they link customers.
    ``claimed``: they are what the end user typed; only ``handle`` links, the rest are claims."""


class ApiChannel(ChannelAdapter):
    kind: ClassVar[str] = "api"
    Config: ClassVar[type[ChannelConfig]] = ApiChannelConfig
    capabilities: ClassVar[Capabilities] = Capabilities(buttons=True, channel_class="messaging")

    @property
    def trusts_identities(self) -> bool:
        assert isinstance(self.config, ApiChannelConfig)
        return self.config.identity_assurance == "trusted"

    def describe(self) -> dict[str, Any]:
        return {"inbound": "POST /api/v1/messages", **self.config.model_dump()}


def sender_from_api(
    body_sender: Any, *, channel_name: str, trusted: bool, default_region: str | None
) -> Sender:
    """Translate the API's sender object; raises ``InvalidIdentity`` naming the field."""
    identities: list[tuple[IdentityKey, str]] = []
    claims: list[IdentityKey] = []
    for kind in ("email", "phone"):
        raw = getattr(body_sender, kind)
        if raw is None:
            continue
        key = identity_key(kind, raw, default_region=default_region)
        if trusted:
            identities.append((key, Assurance.INTEGRATION.value))
        else:
            claims.append(key)
    if body_sender.handle is not None:
        key = identity_key("handle", body_sender.handle, scope=channel_name)
        identities.append((key, Assurance.INTEGRATION.value))
    return Sender(identities=tuple(identities), claims=tuple(claims), name=body_sender.name)
