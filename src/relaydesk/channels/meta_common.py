"""What WhatsApp Cloud, Messenger and Instagram share: Meta's webhook signature, the
``hub.challenge`` handshake, Graph API calls and the mapping of Graph errors.

- Every notification is signed ``X-Hub-Signature-256: sha256=<hex>``: HMAC-SHA256 keyed with
  the Meta app's App Secret over the raw body bytes (never re-serialised JSON).
- Subscribing a callback URL sends ``GET ?hub.mode=subscribe&hub.verify_token=…&
  hub.challenge=…``; the answer is the challenge, and a wrong token is refused with 403.
- Graph errors are ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``:
  rate limits and temporary failures retry (honouring Retry-After), the rest fail permanently
  with the Graph code, and a refused access token is a channel misconfiguration.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import AnyHttpUrl, ConfigDict, Field

from relaydesk.channels.base import (
    ChannelAdapter,
    ChannelConfig,
    ChannelMisconfigured,
    PayloadError,
    PermanentSendError,
    SignatureError,
    TransientSendError,
    WebhookReply,
    WebhookRequest,
    resolve_secret,
    retry_after_seconds,
)
from relaydesk.channels.content import Button, human_request, is_human_control

log = logging.getLogger("relaydesk.channels.meta")

SIGNATURE_HEADER = "x-hub-signature-256"
DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v25.0"

TRANSIENT_CODES = frozenset(
    {
        1,  # API unknown: "possibly a temporary issue"
        2,  # API service: temporary downtime
        4,  # application request limit
        17,  # user request limit
        32,  # page request limit
        341,  # application limit reached
        613,  # calls exceeded the rate limit
        1200,  # Messenger: temporary send message failure
        130429,  # WhatsApp: throughput reached
        131000,  # WhatsApp: something went wrong
        131016,  # WhatsApp: service unavailable
        131056,  # WhatsApp: pair rate limit (same recipient too often)
        133004,  # WhatsApp: server temporarily unavailable
    }
)
TOKEN_REFUSED = 190


class MetaAppConfig(ChannelConfig):
    """Settings every Meta channel has: the app that signs webhooks, and the Graph API."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)  # ids written bare
    app_secret: str
    """env:NAME of the Meta app's App Secret; it signs every webhook (X-Hub-Signature-256)."""
    verify_token: str
    """env:NAME of the token typed into the app's webhook settings (the GET handshake)."""
    base_url: AnyHttpUrl = AnyHttpUrl(DEFAULT_BASE_URL)
    api_version: str = Field(DEFAULT_API_VERSION, pattern=r"^v\d+\.\d+$")
    appsecret_proof: bool = True
    """Send ``appsecret_proof`` with Graph calls (needed when the app requires it)."""
    human_payloads: list[str] = Field(default_factory=list)
    """More button/postback payloads meaning "talk to a person", beside the standard
    ``HUMAN_AGENT``, ``HUMAN`` and ``TALK_TO_PERSON`` (any case): such a press is stored with
    ``meta.requests_human = true`` and ``meta.control`` naming the control."""

    def graph_url(self, node: str) -> str:
        return f"{str(self.base_url).rstrip('/')}/{self.api_version}/{node}/messages"


# --- inbound: signature and handshake -------------------------------------------------------


def verify_signature(request: WebhookRequest, app_secret: str) -> None:
    """Raise ``SignatureError`` unless the raw body carries the app's signature."""
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        raise SignatureError("missing X-Hub-Signature-256")
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha256" or not given:
        raise SignatureError("X-Hub-Signature-256 must be sha256=<hex>")
    expected = hmac.new(app_secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
        raise SignatureError("X-Hub-Signature-256 does not match the body")


def _forbidden(reason: str) -> SignatureError:
    error = SignatureError(reason)
    error.status = 403
    return error


def answer_challenge(request: WebhookRequest, verify_token: str, channel: str) -> WebhookReply:
    """Echo ``hub.challenge`` when ``hub.verify_token`` matches (constant time), else 403."""
    query = dict(request.query)
    try:
        expected = resolve_secret(verify_token, "verify_token")
    except ChannelMisconfigured as exc:
        log.warning("webhook handshake on channel %s: %s", channel, exc)
        return WebhookReply(status=503, body=b"channel is not configured")
    given = query.get("hub.verify_token", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise _forbidden("hub.verify_token does not match")
    if query.get("hub.mode") != "subscribe":
        raise _forbidden("hub.mode must be subscribe")
    challenge = query.get("hub.challenge", "")
    if not challenge or len(challenge) > 256:
        return WebhookReply(status=400, body=b"hub.challenge is missing or too long")
    return WebhookReply(body=challenge.encode())


class MetaWebhookAdapter(ChannelAdapter):
    """Base of the Meta adapters: signed webhooks and the handshake, from ``MetaAppConfig``."""

    @property
    def meta_config(self) -> MetaAppConfig:
        assert isinstance(self.config, MetaAppConfig)
        return self.config

    async def verify(self, request: WebhookRequest) -> None:
        verify_signature(request, resolve_secret(self.meta_config.app_secret, "app_secret"))

    def challenge(self, request: WebhookRequest) -> WebhookReply | None:
        return answer_challenge(request, self.meta_config.verify_token, self.name)

    def app_secret_for_proof(self) -> str | None:
        config = self.meta_config
        return resolve_secret(config.app_secret, "app_secret") if config.appsecret_proof else None


# --- inbound: reading payloads defensively ----------------------------------------------------


def envelope(request: WebhookRequest) -> tuple[str, list[dict[str, Any]]]:
    """The notification's ``object`` and its entries; ``PayloadError`` if it is no envelope."""
    data = request.json()
    if not isinstance(data, dict):
        raise PayloadError("expected a JSON object")
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        raise PayloadError("entry: expected a list")
    return str(data.get("object", "")), dicts(entries)


def dicts(value: Any) -> list[dict[str, Any]]:
    """The objects in a list (anything else is skipped)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def from_seconds(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def from_millis(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def payload_meta(
    source: str, payload: Any, human_payloads: Iterable[str], **extra: Any
) -> dict[str, Any]:
    """Meta for a tapped button or postback: ``payload`` (the button's id) for the bot, and
    the explicit-request-for-a-person contract when the payload means "talk to a person"
    (``control`` is ``source``: postback, quick_reply, button_reply, …)."""
    meta: dict[str, Any] = {"kind": source, **{k: v for k, v in extra.items() if v is not None}}
    if isinstance(payload, str):
        meta["payload"] = payload
        if is_human_control(payload, human_payloads):
            meta.update(human_request(source))
    return meta


# --- outbound: buttons, or numbered lines where they don't fit -------------------------------


def buttons_fit(buttons: tuple[Button, ...], most: int, title_length: int, id_length: int) -> bool:
    """Whether the provider can show these as buttons (else they become numbered lines)."""
    ids = [button.id for button in buttons]
    return (
        0 < len(buttons) <= most
        and len(set(ids)) == len(ids)
        and all(0 < len(button.title) <= title_length for button in buttons)
        and all(0 < len(ident) <= id_length for ident in ids)
    )


# --- outbound: Graph calls and errors ---------------------------------------------------------


@dataclass(frozen=True)
class GraphError:
    status: int
    code: int | None
    subcode: int | None
    message: str
    details: str | None
    fbtrace_id: str | None
    is_transient: bool

    @property
    def label(self) -> str:
        if self.code is None:
            return f"HTTP {self.status}"
        return f"Graph error {self.code}" + (f"/{self.subcode}" if self.subcode else "")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def read_graph_error(response: httpx.Response) -> GraphError:
    try:
        error = obj(obj(response.json()).get("error"))
    except ValueError:
        error = {}
    details = obj(error.get("error_data")).get("details")
    return GraphError(
        status=response.status_code,
        code=_int(error.get("code")),
        subcode=_int(error.get("error_subcode")),
        message=str(error.get("message") or response.text[:300] or response.reason_phrase),
        details=str(details) if details else None,
        fbtrace_id=str(error["fbtrace_id"]) if error.get("fbtrace_id") else None,
        is_transient=error.get("is_transient") is True,
    )


Reasons = Mapping[int | tuple[int, int], str]
"""Clear reasons for well-known Graph codes, by code or (code, subcode)."""

WHATSAPP_REASONS: Reasons = {
    131047: "more than 24 hours have passed since the customer last wrote, so WhatsApp allows "
    "no free-form message; send an approved template or use another channel",
    131026: "WhatsApp could not deliver the message (the number may not use WhatsApp, or the "
    "customer has not accepted the latest terms or uses an old app)",
    131049: "Meta chose not to deliver this marketing message (per-user marketing limit)",
    131050: "the customer stopped marketing messages from this business; service replies "
    "within the 24 h window still work",
    131051: "WhatsApp does not support this message type",
    131008: "a required parameter is missing",
    131009: "a parameter value is not valid",
    132000: "the template's parameters do not match the approved template",
    132001: "the template does not exist in this language or is not approved",
    132005: "the template text is too long once filled in",
    132007: "the template was rejected by WhatsApp's policy",
    132012: "the template parameters are in the wrong format",
    132015: "the template is paused for low quality",
    132016: "the template is disabled",
    133010: "the phone number is not registered with the Cloud API",
    368: "the WhatsApp account is temporarily blocked for policy violations",
}

MESSENGER_REASONS: Reasons = {
    (10, 2018278): "the customer's last message is older than 24 h; reply with the HUMAN_AGENT "
    "tag (within 7 days) or on another channel",
    (100, 2018001): "no matching user: the recipient id does not belong to this Page",
    551: "this person isn't available right now (they may have blocked the Page or left)",
    200: "the app lacks a permission (pages_messaging, human_agent) or is not live",
    368: "the Page is temporarily blocked from messaging for policy violations",
}

INSTAGRAM_REASONS: Reasons = {
    (10, 2534022): "the customer's last message is older than 24 h; reply with the HUMAN_AGENT "
    "tag (within 7 days) or on another channel",
    (100, 2018001): "no matching user: the recipient id does not belong to this account",
    551: "this person isn't available right now (they may have blocked the account or left)",
    200: "the app lacks a permission (instagram_manage_messages, human_agent) or is not live",
}


def graph_failure(response: httpx.Response, what: str, reasons: Reasons) -> Exception:
    """Map a failed Graph call to Transient/PermanentSendError (or a misconfiguration)."""
    error = read_graph_error(response)
    known = None
    if error.code is not None:
        known = reasons.get((error.code, error.subcode or 0)) or reasons.get(error.code)
    text = f"{what}: {error.label}: {known or error.message}"
    if known and error.message:
        text += f" (Meta: {error.message})"
    if error.details:
        text += f" — {error.details}"
    if error.fbtrace_id:
        text += f" [fbtrace_id {error.fbtrace_id}]"
    if error.code == TOKEN_REFUSED or response.status_code == 401:
        return ChannelMisconfigured(f"{what}: the access token was refused; renew it ({text})")
    if (
        response.status_code == 429
        or response.status_code >= 500
        or error.code in TRANSIENT_CODES
        or error.is_transient
    ):
        return TransientSendError(text, retry_after_seconds(response))
    code = str(error.code) if error.code is not None else str(response.status_code)
    return PermanentSendError(text, code)


async def post_graph(
    http: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    token: str,
    app_secret: str | None,
    what: str,
    reasons: Reasons,
) -> dict[str, Any]:
    """POST ``body`` as JSON with a Bearer token; the decoded answer, or raise a send error."""
    params = {}
    if app_secret is not None:
        params["appsecret_proof"] = hmac.new(
            app_secret.encode(), token.encode(), hashlib.sha256
        ).hexdigest()
    try:
        response = await http.post(
            url, json=body, params=params, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.TransportError as exc:
        raise TransientSendError(f"{what}: Graph API unreachable ({type(exc).__name__})") from exc
    if response.status_code >= 300:
        raise graph_failure(response, what, reasons)
    try:
        return obj(response.json())
    except ValueError:
        return {}
