"""The API channel: any system that can POST JSON becomes a channel (a trusted integration).

Inbound arrives at ``POST /api/v1/messages``. Replies go to the integration's
``callback_url`` as JSON signed with HMAC-SHA256 (``X-Relaydesk-Signature: sha256=<hex>``), or,
with no callback, wait to be read from the timeline (they count as sent).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, ClassVar, Literal

import httpx
from pydantic import AnyHttpUrl

from relaydesk.channels.base import (
    Capabilities,
    ChannelAdapter,
    ChannelConfig,
    OutboundMessage,
    Sender,
    SendResult,
    TransientSendError,
    classify_http_failure,
    resolve_secret,
)
from relaydesk.customers.identities import Assurance, IdentityKey, identity_key

SIGNATURE_HEADER = "X-Relaydesk-Signature"


class ApiChannelConfig(ChannelConfig):
    identity_assurance: Literal["trusted", "claimed"] = "trusted"
    """``trusted``: the caller vouches for email and phone, so they link customers.
    ``claimed``: they are what the end user typed; only ``handle`` links, the rest are claims."""
    callback_url: AnyHttpUrl | None = None
    """Where replies are POSTed; without it, integrations read replies from the API."""
    callback_secret: str | None = None
    """env:NAME of the key that signs callbacks."""


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class ApiChannel(ChannelAdapter):
    kind: ClassVar[str] = "api"
    Config: ClassVar[type[ChannelConfig]] = ApiChannelConfig
    capabilities: ClassVar[Capabilities] = Capabilities(buttons=True, channel_class="messaging")
    supports_buttons: ClassVar[bool] = True
    accepts_webhooks: ClassVar[bool] = False

    @property
    def settings(self) -> ApiChannelConfig:
        assert isinstance(self.config, ApiChannelConfig)
        return self.config

    @property
    def trusts_identities(self) -> bool:
        return self.settings.identity_assurance == "trusted"

    def describe(self) -> dict[str, Any]:
        return {
            "inbound": "POST /api/v1/messages",
            "replies": str(self.settings.callback_url or "read from the API"),
        }

    @classmethod
    def address_from_identities(
        cls, identities: list[tuple[str, str, str]], channel_name: str
    ) -> dict[str, Any] | None:
        handles = [
            value for kind, scope, value in identities if kind == "handle" and scope == channel_name
        ]
        return {"handle": handles[0]} if handles else {}

    async def send(self, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        if self.settings.callback_url is None:
            return SendResult(external_id=None, status="sent")
        meta = {k: v for k, v in message.meta.items() if k != "buttons"}
        body = json.dumps(
            {
                "message_id": message.message_id,
                "text": message.text,
                "buttons": [button.title for button in message.buttons],
                "choices": [{"id": b.id, "title": b.title} for b in message.buttons],
                "recipient": message.reply_to,
                **meta,
            },
            separators=(",", ":"),
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.settings.callback_secret:
            secret = resolve_secret(self.settings.callback_secret, "callback_secret")
            headers[SIGNATURE_HEADER] = sign(secret, body)
        try:
            response = await http.post(
                str(self.settings.callback_url), content=body, headers=headers
            )
        except httpx.TransportError as exc:
            raise TransientSendError(f"callback unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            raise classify_http_failure(response, "callback")
        return SendResult(external_id=None, status="sent")


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
