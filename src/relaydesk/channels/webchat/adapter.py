"""The web chat widget channel (``kind: webchat``): settings and translation.

The browser talks to the hub over a websocket (see socket.py); this module only translates
between the widget's frames and the normalised objects. It never touches the database.

Replies are "sent" by accepting them for live delivery: ``send`` records them as sent and a
listener (listeners.py) pushes them to every open widget of the customer through the
realtime broadcast. The widget reports ``delivered`` and ``read`` back over its socket.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import Field, field_validator

from relaydesk.channels.base import (
    Capabilities,
    ChannelAdapter,
    ChannelConfig,
    InboundMessage,
    OutboundMessage,
    PermanentSendError,
    Sender,
    SendResult,
)
from relaydesk.channels.content import buttons_from_meta, is_human_control
from relaydesk.channels.content import human_request as mark_human
from relaydesk.customers.identities import Assurance, IdentityKey, identity_key

KIND = "webchat"
HUMAN_REQUEST_TEXT = "I would like to talk to a person, please."
"""What the "Talk to a person" control sends, with ``meta.human_request = true``."""
HUMAN_CONTROL = "talk_to_person"
"""``meta.control`` of a message sent with the "Talk to a person" control."""


def normalize_origin(raw: str) -> str:
    """``scheme://host[:port]`` in lower case, default ports dropped; ValueError otherwise."""
    text = raw.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{raw!r} is not an origin like https://shop.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{raw!r}: an origin has no path, query or user (https://host[:port])")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{raw!r}: bad port") from None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


class WebchatConfig(ChannelConfig):
    allowed_origins: list[str] = Field(default_factory=list)
    """Sites allowed to open the chat (``https://shop.example.com``); the hub's own pages
    are always allowed."""
    title: Annotated[str, Field(min_length=1, max_length=80)] = "Chat with us"
    greeting: Annotated[str, Field(max_length=500)] | None = "Hi! How can we help you today?"
    ask_email: bool = True
    """Offer the visitor to leave an email address (verified with a one-time code)."""
    verification_channel: str | None = None
    """The channel that sends the one-time code, normally an email channel. Without it a
    typed address stays an unverified claim."""
    rate_limit: Annotated[int, Field(ge=1, le=600)] = 20
    """Messages per minute per visitor."""
    max_text_length: Annotated[int, Field(ge=1, le=32_768)] = 2000
    """Longest visitor message, in characters."""
    color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = "#1f4fd1"
    """Accent colour of the launcher and the visitor's bubbles."""

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(normalize_origin(item) for item in value))


class WebchatChannel(ChannelAdapter):
    kind: ClassVar[str] = KIND
    Config: ClassVar[type[ChannelConfig]] = WebchatConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        buttons=True, typing=True, max_text_length=8000, channel_class="chat", receipts=True
    )
    supports_buttons: ClassVar[bool] = True
    accepts_webhooks: ClassVar[bool] = False

    @property
    def settings(self) -> WebchatConfig:
        assert isinstance(self.config, WebchatConfig)
        return self.config

    def describe(self) -> dict[str, Any]:
        return {
            "snippet": f'<script src="https://HUB/widget.js" data-channel="{self.name}" '
            "async></script>",
            "socket": f"/widget/ws/{self.name}",
            "allowed_origins": ", ".join(self.settings.allowed_origins) or "the hub only",
        }

    def origin_allowed(
        self, origin: str | None, host: str | None, public_url: str | None = None
    ) -> bool:
        """Listed origins, or the hub's own pages: same host as the one called, or the
        hub's public URL. A missing or unreadable Origin is refused."""
        if not origin:
            return False
        try:
            normalized = normalize_origin(origin)
        except ValueError:
            return False
        if normalized in self.settings.allowed_origins:
            return True
        if public_url is not None:
            parts = urlsplit(public_url)
            if normalized == normalize_origin(f"{parts.scheme}://{parts.netloc}"):
                return True
        return host is not None and urlsplit(normalized).netloc == host.lower()

    def visitor_key(self, visitor: str) -> IdentityKey:
        return identity_key("handle", visitor, scope=self.name)

    def sender(self, visitor: str) -> Sender:
        """The visitor as the hub asserts them: a handle only this channel gives out."""
        return Sender(identities=((self.visitor_key(visitor), Assurance.PROVIDER.value),))

    def inbound(
        self,
        visitor: str,
        client_msg_id: str,
        text: str,
        *,
        human_request: bool = False,
        button: str | None = None,
        sent_at: datetime | None = None,
    ) -> InboundMessage:
        """A visitor's message; ``client_msg_id`` makes a resend a no-op (per visitor).

        The "Talk to a person" control, or a pressed button whose id asks for a person, is an
        explicit request for a person (``requests_human``, ``control``)."""
        meta: dict[str, Any] = {}
        if button is not None:
            meta["payload"] = button
            if is_human_control(button):
                meta.update(mark_human("button"))
        if human_request:  # human_request: the widget's own flag, kept for its history
            meta.update(mark_human(HUMAN_CONTROL, human_request=True))
        return InboundMessage(
            channel=self.name,
            external_id=external_id(visitor, client_msg_id),
            sender=self.sender(visitor),
            text=text,
            sent_at=sent_at,
            meta=meta,
            reply_to={"visitor": visitor},
        )

    async def send(self, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        if not message.reply_to.get("visitor"):
            raise PermanentSendError("no widget visitor to reply to", "no_visitor")
        # Accepted for live delivery: listeners.py pushes it to the visitor's open widgets
        # once this is recorded; the message id is the id the widget acknowledges.
        return SendResult(external_id=message.message_id, status="sent")

    @classmethod
    def address_from_identities(
        cls, identities: list[tuple[str, str, str]], channel_name: str
    ) -> dict[str, Any] | None:
        visitors = [
            v for kind, scope, v in identities if kind == "handle" and scope == channel_name
        ]
        return {"visitor": visitors[-1]} if visitors else None


def external_id(visitor: str, client_msg_id: str) -> str:
    """Scoped by visitor, so nobody can collide with (or probe) another visitor's ids."""
    return f"{visitor}:{client_msg_id}"


def client_msg_id_of(visitor: str, external: str | None) -> str | None:
    prefix = f"{visitor}:"
    return external.removeprefix(prefix) if external and external.startswith(prefix) else None


AUTHOR_FROM = {"agent": "agent", "bot": "bot", "system": "system"}


def message_frame(
    *,
    message_id: str,
    direction: str,
    author_type: str,
    text: str,
    created_at: datetime,
    external: str | None,
    visitor: str,
    meta: dict[str, Any],
    status: str | None,
) -> dict[str, Any]:
    """One stored message as the widget shows it (``from``: visitor, agent, bot, system)."""
    frame: dict[str, Any] = {
        "type": "message",
        "id": message_id,
        "from": "visitor" if direction == "inbound" else AUTHOR_FROM.get(author_type, "agent"),
        "text": text,
        "created_at": created_at.isoformat(),
    }
    if direction == "inbound":
        own = client_msg_id_of(visitor, external)
        if own is not None:
            frame["client_msg_id"] = own
        if meta.get("human_request") or meta.get("requests_human"):
            frame["human_request"] = True
    else:
        frame["status"] = status
        buttons = buttons_from_meta(meta.get("buttons"))
        if buttons:  # labels (older widgets send the label back), and ids with them
            frame["buttons"] = [button.title for button in buttons]
            frame["choices"] = [{"id": b.id, "title": b.title} for b in buttons]
    return frame
