"""What every Twilio channel shares: settings, X-Twilio-Signature, form fields, API errors.

Signatures are computed with the twilio SDK's ``RequestValidator`` and compared here in
constant time (``hmac.compare_digest``), over the URL exactly as Twilio called it (with and
without the default port, as the SDK accepts) and every POST field; JSON webhooks carry
``bodySHA256`` in the URL instead, and the raw body's hash is checked.
"""

from __future__ import annotations

import hmac
import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from pydantic import AnyHttpUrl, Field, field_validator
from twilio.request_validator import (  # type: ignore[import-untyped]
    RequestValidator,
    add_port,
    get_signature_algorithm,
    remove_port,
)

from relaydesk.channels.base import (
    ChannelConfig,
    ChannelMisconfigured,
    PayloadError,
    PermanentSendError,
    SignatureError,
    TransientSendError,
    WebhookRequest,
    resolve_secret,
    retry_after_seconds,
)
from relaydesk.customers.identities import IdentityKey, InvalidIdentity, identity_key

SIGNATURE_HEADER = "x-twilio-signature"
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
"""Present when the webhook is signed with a SharedKey instead of the Auth Token."""
DEFAULT_BASE_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"

ERROR_REASONS: dict[str, str] = {
    "21211": "the 'To' number is not a valid phone number",
    "21408": "sending to this region is not enabled on the Twilio account",
    "21610": "the recipient replied STOP and has opted out of messages from this sender",
    "21612": "Twilio cannot route a message between these two numbers",
    "21614": "the 'To' number cannot receive SMS (not a mobile number)",
    "30003": "the handset is unreachable (switched off or out of coverage)",
    "30004": "the message was blocked (the recipient or carrier blocks it)",
    "30005": "unknown destination handset (the number does not exist)",
    "30006": "the number is a landline or unreachable carrier",
    "30007": "the carrier filtered the message as spam",
    "30008": "unknown delivery error",
    "63016": (
        "WhatsApp: the customer's 24-hour window is closed; only an approved template "
        "(ContentSid) may be sent until they write again"
    ),
    "63018": "WhatsApp: the sender's rate limit was exceeded",
    "63024": "WhatsApp: the recipient is not a valid WhatsApp user",
}
"""Twilio error codes an agent is likely to see, in words (twilio.com/docs/api/errors)."""

_PHONE_LIKE = re.compile(r"\+?\(?\d[\d ()\-]{5,}\d")


def redact_numbers(text: str) -> str:
    """Twilio's error messages quote phone numbers; keep them out of health and logs."""
    return _PHONE_LIKE.sub("…", text)


class TwilioConfig(ChannelConfig):
    """Settings every Twilio channel has, named as in the Twilio Console."""

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: str
    """env:NAME of the account's Auth Token: it signs webhooks and authenticates API calls."""
    phone_number: str | None = None
    """The Twilio number in E.164 (+46701234567)."""
    base_url: AnyHttpUrl = AnyHttpUrl(DEFAULT_BASE_URL)
    """The REST API's root; tests point it at a loopback server."""
    signing_key: str | None = None
    """env:NAME of a webhook SharedKey secret, when Twilio signs with one instead of the
    Auth Token (requests then carry X-Twilio-Webhooks-Signature-Settings)."""

    @field_validator("phone_number")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return identity_key("phone", value).value
        except InvalidIdentity as exc:
            raise ValueError(exc.reason) from None

    def api_url(self, resource: str) -> str:
        root = str(self.base_url).rstrip("/")
        return f"{root}/{API_VERSION}/Accounts/{self.account_sid}/{resource}"

    def credentials(self) -> tuple[str, str]:
        return self.account_sid, resolve_secret(self.auth_token, "auth_token")


class TwilioForm:
    """A form-encoded Twilio request: every field (for the signature) and the first values."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.all: dict[str, list[str]] = {}
        for name, value in pairs:
            self.all.setdefault(name, []).append(value)

    def get(self, name: str, default: str = "") -> str:
        values = self.all.get(name)
        return values[0] if values else default

    def __contains__(self, name: object) -> bool:
        return name in self.all


class _MultiParams(dict[str, list[str]]):
    """What the SDK's validator reads repeated fields from (it calls ``getall``)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def _signature_matches(request: WebhookRequest, key: str, algorithm: str) -> bool:
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature:
        return False
    validator = RequestValidator(key)
    parsed = urlparse(request.url)
    params = _MultiParams()
    body_hash = parse_qs(parsed.query).get("bodySHA256")
    if body_hash:
        try:
            computed = validator.compute_hash(request.body.decode("utf-8"))
        except UnicodeDecodeError:
            return False
        if not hmac.compare_digest(computed.encode(), body_hash[0].encode()):
            return False
    else:
        params.update(TwilioForm(request.form()).all)
    given = signature.encode("utf-8", "replace")
    for url in (remove_port(parsed), add_port(parsed)):  # as the SDK's validate() tries them
        try:
            expected = validator.compute_signature(url, params, algorithm)
        except ValueError:  # an algorithm this SDK does not know
            return False
        if hmac.compare_digest(expected.encode(), given):
            return True
    return False


def verify_twilio(request: WebhookRequest, config: TwilioConfig) -> None:
    """Raise ``SignatureError`` unless Twilio signed this request for this account."""
    settings_header = request.headers.get(SIGNATURE_SETTINGS_HEADER)
    if settings_header:
        if not config.signing_key:
            raise SignatureError(
                "signed with a Twilio SharedKey, but the channel has no signing_key"
            )
        key = resolve_secret(config.signing_key, "signing_key")
        algorithm = str(get_signature_algorithm(settings_header))
    else:
        key = resolve_secret(config.auth_token, "auth_token")
        algorithm = "HMAC_SHA1"
    if not request.headers.get(SIGNATURE_HEADER):
        raise SignatureError("missing X-Twilio-Signature")
    if not _signature_matches(request, key, algorithm):
        raise SignatureError("X-Twilio-Signature does not match this URL and these fields")


def read_form(request: WebhookRequest) -> TwilioForm:
    content_type = request.headers.get("content-type", "application/x-www-form-urlencoded")
    if "json" in content_type:
        raise PayloadError("expected a form-encoded Twilio webhook, got JSON")
    return TwilioForm(request.form())


def phone_of(raw: str) -> IdentityKey | None:
    """A Twilio address (``+4670…``, ``whatsapp:+4670…``) as an E.164 phone identity."""
    if not raw:
        return None
    try:
        return identity_key("phone", raw)
    except InvalidIdentity:
        return None


def twilio_failure(response: httpx.Response, what: str) -> Exception:
    """Map a Twilio REST error: 429/5xx transient (Retry-After), 401 a configuration
    problem, other 4xx permanent with Twilio's error ``code`` (21610 = opted out)."""
    try:
        data: Any = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    code = str(data["code"]) if data.get("code") is not None else None
    message = redact_numbers(str(data.get("message") or response.text[:200]).strip())
    status = response.status_code
    label = f"Twilio {what}: HTTP {status}" + (f", error {code}" if code else "")
    if status == 429 or status >= 500:
        return TransientSendError(f"{label}: {message}", retry_after_seconds(response))
    if status == 401:
        return ChannelMisconfigured(f"{label}: check account_sid and auth_token ({message})")
    reason = ERROR_REASONS.get(code or "", message)
    return PermanentSendError(f"{label}: {reason}", code or str(status), opted_out=code == "21610")


async def post_to_twilio(
    http: httpx.AsyncClient,
    config: TwilioConfig,
    resource: str,
    data: dict[str, str | list[str]],
    what: str,
) -> dict[str, Any]:
    """POST a form to the REST API with basic auth; the JSON answer or a mapped error."""
    try:
        response = await http.post(config.api_url(resource), data=data, auth=config.credentials())
    except httpx.TransportError as exc:
        raise TransientSendError(f"Twilio unreachable: {type(exc).__name__}") from exc
    if response.status_code >= 300:
        raise twilio_failure(response, what)
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}
