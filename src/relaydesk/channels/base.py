"""What every channel driver provides, and the normalised objects it produces and consumes.

Adapters translate between a provider and these objects; they never touch the database.
Adding a channel = one adapter module + its fixtures + a contract test + a registry entry.
"""

from __future__ import annotations

import asyncio
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import httpx
from pydantic import BaseModel, ConfigDict

from relaydesk.channels.content import Attachment, Button
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
    """One customer message, normalised; carries where a reply must go (``reply_to``)."""

    channel: str
    external_id: str
    sender: Sender
    text: str
    sent_at: datetime | None = None
    thread_key: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    """Facts the channel already knows (e.g. an order number from the integration)."""
    meta: dict[str, Any] = field(default_factory=dict)
    reply_to: dict[str, Any] = field(default_factory=dict)
    """Channel-specific address for replies (a phone, a chat id, email thread headers)."""
    opens_window: bool = True
    """Whether this message (re)opens the provider's customer-care window."""
    author_type: str = "customer"
    """"system" for channel events shown on the timeline (a call started, an IVR choice)."""
    thread_refs: tuple[str, ...] = ()
    """External ids of earlier messages this one answers (email In-Reply-To, References):
    it joins the conversation holding the first of them that is stored."""


MAX_FULL_TEXT = 200_000
"""Characters of an over-long text kept in ``meta.full_text``."""


def without_nul(value: Any) -> Any:
    """``value`` (text, containers, dataclasses) with NUL characters replaced by U+FFFD."""
    return _without_nul(value) if _has_nul(value) else value


def _has_nul(value: Any) -> bool:
    """A look without rebuilding anything: almost nothing carries a NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return any(_has_nul(getattr(value, f.name)) for f in fields(value) if f.init)
    return False


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, tuple):
        items = [_without_nul(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _without_nul(getattr(value, f.name)) for f in fields(value) if f.init}
        return replace(value, **changes)
    return value


def storable(message: InboundMessage) -> InboundMessage:
    """The message with NUL characters replaced (U+FFFD): PostgreSQL cannot store them in text
    or JSON, and SQLite would, so both keep the same text. Everything else is unchanged."""
    cleaned: InboundMessage = without_nul(message)
    return cleaned


def capped(message: InboundMessage, limit: int) -> InboundMessage:
    """A provider's over-long text cut to the hub's limit (``RELAYDESK_MAX_TEXT_LENGTH``), as
    email does: the whole text stays in ``meta.full_text``. A provider cannot be told 413."""
    if len(message.text) <= limit:
        return message
    cut = message.text[: limit - 1].rstrip() + "…"
    full = message.text[: max(MAX_FULL_TEXT, limit)]
    return replace(message, text=cut, meta={**message.meta, "full_text": full, "cut": True})


@dataclass(frozen=True)
class DeliveryUpdate:
    """A provider's word on an outbound message: sent, delivered, read or failed."""

    external_id: str
    status: str
    """sent | delivered | read | failed"""
    at: datetime | None = None
    error_code: str | None = None
    error: str | None = None
    opted_out: bool = False
    """The failure means the recipient opted out (e.g. Twilio 21610)."""


@dataclass(frozen=True)
class Watermark:
    """Everything sent on the channel to ``identity`` up to ``at`` is ``status`` (Messenger's
    ``read``/``delivery`` watermarks name no message)."""

    identity: IdentityKey
    status: str
    """delivered | read"""
    at: datetime


@dataclass(frozen=True)
class ConsentChange:
    """The customer opted in or out of a channel (STOP / START, marketing preferences)."""

    identity: IdentityKey
    status: str
    """granted | revoked"""
    reason: str
    purpose: str = "all"
    """all (STOP on SMS: nothing may be sent) or marketing (service replies still go)."""


def consent_key(channel_name: str, purpose: str = "all") -> str:
    """Where a consent is kept per customer: the channel's name for everything, or
    ``<channel>:marketing`` for marketing messages only."""
    return channel_name if purpose == "all" else f"{channel_name}:{purpose}"


@dataclass(frozen=True)
class WebhookReply:
    """What the provider expects back (TwiML, a challenge echo, or nothing)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"


@dataclass(frozen=True)
class OutboundRequest:
    """A message the channel wants sent in reply to ``messages[for_message]`` of the same
    webhook, on ``channel`` (e.g. the IVR's "press 1 for an SMS link")."""

    for_message: int
    channel: str
    text: str
    buttons: tuple[str, ...] = ()


@dataclass
class ParsedWebhook:
    messages: list[InboundMessage] = field(default_factory=list)
    deliveries: list[DeliveryUpdate] = field(default_factory=list)
    watermarks: list[Watermark] = field(default_factory=list)
    consent: list[ConsentChange] = field(default_factory=list)
    outbound: list[OutboundRequest] = field(default_factory=list)
    reply: WebhookReply = field(default_factory=WebhookReply)


@dataclass(frozen=True)
class WebhookRequest:
    """A provider's HTTP request as received; ``url`` is the public URL the provider called."""

    method: str
    url: str
    headers: dict[str, str]
    """Lower-cased names."""
    query: list[tuple[str, str]]
    body: bytes

    def form(self) -> list[tuple[str, str]]:
        try:
            return parse_qsl(
                self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False
            )
        except UnicodeDecodeError as exc:
            raise PayloadError("the form body is not UTF-8") from exc

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PayloadError(f"the body is not JSON: {exc}") from exc


@dataclass(frozen=True)
class OutboundMessage:
    """A reply to send; ``reply_to`` is what the channel's inbound messages said."""

    message_id: str
    text: str
    reply_to: dict[str, Any]
    buttons: tuple[Button, ...] = ()
    """Shown as buttons where the adapter ``supports_buttons`` (and they fit), else as
    numbered lines (``text_with_choices``)."""
    template: dict[str, Any] | None = None
    """An approved template (name/id and variables) for sending outside the window."""
    tag: str | None = None
    """A provider message tag (Messenger HUMAN_AGENT) for replies outside the window."""
    meta: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    """Only for adapters whose capabilities say ``attachments``; delivery turns them into
    links in the text for the others."""


@dataclass(frozen=True)
class SendResult:
    external_id: str | None
    status: str = "sent"
    """sent, or delivered when the provider confirms delivery synchronously."""


class SignatureError(Exception):
    """The request is not from the provider: answer 401 (403 for a bad challenge), store nothing."""

    status = 401


class PayloadError(ValueError):
    """Signed but unreadable: answer 400 so the provider reports it; store nothing."""


class ChannelMisconfigured(RuntimeError):
    """A setting or secret the channel needs is missing (shown in channel health)."""


class TransientSendError(Exception):
    """Try again later (timeout, 5xx, 429); ``retry_after`` in seconds when the provider said."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentSendError(Exception):
    """Retrying will not help (bad number, opted out, window closed)."""

    def __init__(self, reason: str, code: str | None = None, *, opted_out: bool = False) -> None:
        super().__init__(reason)
        self.code = code
        self.opted_out = opted_out


@dataclass(frozen=True)
class Capabilities:
    buttons: bool = False
    attachments: bool = False
    typing: bool = False
    max_text_length: int | None = None
    channel_class: str = "messaging"
    """How an agent's capacity counts it: voice, chat, messaging or email."""
    reply_window: timedelta | None = None
    """Free-form replies only within this time of the customer's last message."""
    outside_window: str | None = None
    """What may be sent outside the window: "template", "tag", or None (nothing)."""
    receipts: bool = False
    """The provider reports delivered/read."""


class ChannelConfig(BaseModel):
    """Base for each kind's settings in the workspace file; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def resolve_secret(reference: str | None, setting: str) -> str:
    """Read ``env:NAME`` from the environment; the value itself is never stored."""
    if not reference:
        raise ChannelMisconfigured(f"{setting} is not set")
    if not reference.startswith("env:"):
        raise ChannelMisconfigured(f"{setting} must be an env:NAME reference")
    name = reference.removeprefix("env:")
    value = os.environ.get(name)
    if not value:
        raise ChannelMisconfigured(f"{setting}: environment variable {name} is not set")
    return value


Submit = Callable[[ParsedWebhook], Awaitable[list[Any]]]
"""Stores what a receiver got (like a verified webhook) and returns the ingest results."""


class ChannelAdapter(ABC):
    """A driver for one kind of channel (separate from the channel record that configures it)."""

    kind: ClassVar[str]
    Config: ClassVar[type[ChannelConfig]]
    capabilities: ClassVar[Capabilities]
    takes_written_replies: ClassVar[bool] = True
    """False for channels that cannot carry a written reply (a phone call): replies are
    refused when queued, and a reply on no named channel goes to another conversation."""
    supports_buttons: ClassVar[bool] = False
    """Whether replies can show buttons (``meta["buttons"]``); without them the choices
    travel as numbered lines in the text."""
    max_buttons: ClassVar[int | None] = None
    """The most buttons one message can show (None: no small limit); more become lines."""
    accepts_webhooks: ClassVar[bool] = True
    has_receiver: ClassVar[bool] = False
    """True for channels that listen or poll themselves (SMTP server, IMAP polling)."""

    def __init__(self, name: str, config: ChannelConfig) -> None:
        self.name = name
        self.config = config

    def describe(self) -> dict[str, Any]:
        """Non-secret facts shown to operators (e.g. the webhook URL to configure)."""
        return {"webhook": f"/hooks/{self.name}"} if self.accepts_webhooks else {}

    async def verify(self, request: WebhookRequest) -> None:
        """Raise ``SignatureError`` unless the request provably comes from the provider."""
        raise SignatureError(f"{self.kind} channels take no webhooks")

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        """Translate a verified request; raise ``PayloadError`` if it cannot be read."""
        raise PayloadError(f"{self.kind} channels take no webhooks")

    def challenge(self, request: WebhookRequest) -> WebhookReply | None:
        """Answer a provider's GET verification handshake, or None if it has none."""
        return None

    @abstractmethod
    async def send(self, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        """Deliver one reply; raise Transient/PermanentSendError on failure."""

    def after_processing(self, parsed: ParsedWebhook, results: list[Any]) -> WebhookReply:
        """The webhook's answer once its messages are stored (voice builds TwiML here)."""
        return parsed.reply

    async def receive(self, submit: Submit, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, handing what arrives to ``submit`` (only if has_receiver).

        Raise to report a failure: the hub records it in the channel's health and restarts
        the receiver with backoff.
        """
        raise NotImplementedError

    @classmethod
    def address_from_identities(
        cls, identities: list[tuple[str, str, str]], channel_name: str
    ) -> dict[str, Any] | None:
        """Where to reach a customer who never wrote on this channel (kind, scope, value)."""
        return None


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), if any."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        from relaydesk import clock

        return max(0.0, (when - clock.now()).total_seconds())


def classify_http_failure(response: httpx.Response, what: str) -> Exception:
    """The standard mapping: 429 and 5xx are transient, other 4xx permanent."""
    snippet = response.text[:300]
    if response.status_code == 429 or response.status_code >= 500:
        return TransientSendError(
            f"{what}: HTTP {response.status_code} {snippet}", retry_after_seconds(response)
        )
    return PermanentSendError(
        f"{what}: HTTP {response.status_code} {snippet}", str(response.status_code)
    )
