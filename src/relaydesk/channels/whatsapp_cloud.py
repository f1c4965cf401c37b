"""WhatsApp through Meta's Cloud API (``kind: whatsapp_cloud``).

Inbound: the app's webhook (fields ``messages`` and ``user_preferences``), signed with the App
Secret. Messages carry the sender's WhatsApp number (``from``, an E.164 number without "+"),
which the provider asserts; statuses report sent/delivered/read/failed; ``user_preferences``
says the customer stopped or resumed *marketing* messages.

Outbound: ``POST {base_url}/{api_version}/{phone_number_id}/messages`` with the access token.
Free-form text (≤ 4096 characters, up to 3 reply buttons) only within 24 h of the customer's
last message; outside it, an approved template.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from relaydesk.channels.base import (
    Capabilities,
    ChannelConfig,
    ConsentChange,
    DeliveryUpdate,
    InboundMessage,
    OutboundMessage,
    ParsedWebhook,
    PermanentSendError,
    Sender,
    SendResult,
    WebhookRequest,
    resolve_secret,
)
from relaydesk.channels.content import text_with_choices
from relaydesk.channels.meta_common import (
    WHATSAPP_REASONS,
    MetaAppConfig,
    MetaWebhookAdapter,
    buttons_fit,
    dicts,
    envelope,
    from_seconds,
    log,
    obj,
    payload_meta,
    post_graph,
)
from relaydesk.customers.identities import Assurance, IdentityKey, InvalidIdentity, identity_key

MAX_TEXT = 4096
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_INTERACTIVE_BODY = 1024
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "played": "read"}


class WhatsAppTemplate(BaseModel):
    """An approved template, referred to in replies by its key in ``templates``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    """The template's name at Meta (default: its key)."""
    language: str = Field(pattern=r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
    """The approved language, e.g. en_US or pl."""
    params: list[str] = Field(default_factory=list)
    """Names of the body variables {{1}}, {{2}}, … in order (lets replies name them)."""


class WhatsAppCloudConfig(MetaAppConfig):
    phone_number_id: str = Field(pattern=r"^\d+$")
    access_token: str
    """env:NAME of a (system user) access token with whatsapp_business_messaging."""
    templates: dict[str, WhatsAppTemplate] = Field(default_factory=dict)


def _media_meta(kind: str, media: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "mime_type", "sha256", "filename", "voice", "animated", "url")
    return {"type": kind, **{k: media[k] for k in keep if k in media}}


def _content(item: dict[str, Any], human_payloads: list[str]) -> tuple[str, dict[str, Any]]:
    """The message's text and its meta (button payloads, attachments, location, …)."""
    kind = str(item.get("type", ""))
    body = obj(item.get(kind))
    if kind == "text":
        return str(body.get("body", "")), {}
    if kind == "interactive":
        sub = str(body.get("type", ""))
        reply = obj(body.get(sub))
        if sub in ("button_reply", "list_reply"):
            title = str(reply.get("title", ""))
            return title, payload_meta(
                sub, reply.get("id"), human_payloads, description=reply.get("description")
            )
        if sub == "nfm_reply":
            return str(reply.get("body", "")), {
                "kind": "flow_reply",
                "response_json": reply.get("response_json"),
            }
        return "", {"kind": f"interactive:{sub}"}
    if kind == "button":  # a quick-reply button of a template
        return str(body.get("text", "")), payload_meta(
            "button", body.get("payload"), human_payloads
        )
    if kind in MEDIA_TYPES:
        return str(body.get("caption", "")), {"attachments": [_media_meta(kind, body)]}
    if kind == "location":
        text = ", ".join(str(body[k]) for k in ("name", "address") if body.get(k))
        return text, {"location": body}
    if kind == "contacts":
        return "", {"contacts": item.get("contacts", [])}
    if kind == "order":
        return str(body.get("text", "")), {"order": body}
    if kind == "system":
        return str(body.get("body", "")), {"kind": "system", "event": body.get("type")}
    codes = [error.get("code") for error in dicts(item.get("errors"))]
    return "", {"kind": "unsupported", "type": kind, "error_codes": codes}


class WhatsAppCloudChannel(MetaWebhookAdapter):
    kind: ClassVar[str] = "whatsapp_cloud"
    Config: ClassVar[type[ChannelConfig]] = WhatsAppCloudConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        buttons=True,
        max_text_length=MAX_TEXT,
        channel_class="messaging",
        reply_window=timedelta(hours=24),
        outside_window="template",
        receipts=True,
    )
    supports_buttons: ClassVar[bool] = True  # interactive reply buttons; more: numbered lines
    max_buttons: ClassVar[int | None] = MAX_BUTTONS

    @property
    def settings(self) -> WhatsAppCloudConfig:
        assert isinstance(self.config, WhatsAppCloudConfig)
        return self.config

    def describe(self) -> dict[str, Any]:
        return {
            "webhook": f"/hooks/{self.name}",
            "subscribe_fields": ["messages", "user_preferences"],
            "phone_number_id": self.settings.phone_number_id,
            "templates": sorted(self.settings.templates),
        }

    # --- inbound ---------------------------------------------------------------------------

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        kind, entries = envelope(request)
        parsed = ParsedWebhook()
        if kind != "whatsapp_business_account":
            log.warning("channel %s ignored a webhook for object %r", self.name, kind[:40])
            return parsed
        foreign = 0
        for entry in entries:
            for change in dicts(entry.get("changes")):
                value = obj(change.get("value"))
                number = str(obj(value.get("metadata")).get("phone_number_id", ""))
                if number and number != self.settings.phone_number_id:
                    foreign += 1  # another number of the same app: not this channel's
                    continue
                self._parse_value(value, parsed)
        if foreign:
            log.info("channel %s skipped %d change(s) for other numbers", self.name, foreign)
        return parsed

    def _parse_value(self, value: dict[str, Any], parsed: ParsedWebhook) -> None:
        contacts = {str(c.get("wa_id")): c for c in dicts(value.get("contacts"))}
        for item in dicts(value.get("messages")):
            message = self._message(item, contacts)
            if message is not None:
                parsed.messages.append(message)
        for item in dicts(value.get("statuses")):
            update = self._status(item)
            if update is not None:
                parsed.deliveries.append(update)
        for item in dicts(value.get("user_preferences")):
            change = self._preference(item)
            if change is not None:
                parsed.consent.append(change)
        for error in dicts(value.get("errors")):
            log.warning("channel %s: WhatsApp reported error %s", self.name, error.get("code"))

    def _phone_or_handle(self, wa_id: str) -> IdentityKey:
        try:
            return identity_key("phone", "+" + wa_id.lstrip("+"))
        except InvalidIdentity:
            return identity_key("whatsapp", wa_id, scope=self.name)

    def _sender(self, wa_id: str, contact: dict[str, Any]) -> Sender:
        keys = [self._phone_or_handle(wa_id)]
        user_id = contact.get("user_id")  # business-scoped user id, where Meta sends one
        if isinstance(user_id, str) and user_id:
            keys.append(identity_key("whatsapp", user_id, scope=self.name))
        unique = list(dict.fromkeys(keys))
        name = obj(contact.get("profile")).get("name")
        return Sender(
            identities=tuple((key, Assurance.PROVIDER.value) for key in unique),
            name=str(name) if name else None,
        )

    def _message(
        self, item: dict[str, Any], contacts: dict[str, dict[str, Any]]
    ) -> InboundMessage | None:
        wa_id, external_id = str(item.get("from", "")), str(item.get("id", ""))
        if not wa_id or not external_id:
            log.warning("channel %s skipped a message without from/id", self.name)
            return None
        meta: dict[str, Any]
        opens_window, author_type = True, "customer"
        refs: tuple[str, ...] = ()
        if item.get("type") == "reaction":
            reaction = obj(item.get("reaction"))
            if not reaction.get("emoji"):
                return None  # a reaction removed
            text = str(reaction["emoji"])
            meta = {"kind": "reaction", "reacted_to": reaction.get("message_id")}
            refs = (str(reaction["message_id"]),) if reaction.get("message_id") else ()
            opens_window = False
        else:
            text, meta = _content(item, self.settings.human_payloads)
            if item.get("type") == "system":
                author_type, opens_window = "system", False
        context = obj(item.get("context"))
        if context.get("id"):
            refs = (str(context["id"]),)
            meta["in_reply_to"] = refs[0]
        if context.get("forwarded") or context.get("frequently_forwarded"):
            meta["forwarded"] = True
        if item.get("referral"):
            meta["referral"] = item["referral"]  # a click-to-WhatsApp ad
        return InboundMessage(
            channel=self.name,
            external_id=external_id,
            sender=self._sender(wa_id, contacts.get(wa_id, {})),
            text=text,
            sent_at=from_seconds(item.get("timestamp")),
            meta=meta,
            reply_to={"to": wa_id},
            opens_window=opens_window,
            author_type=author_type,
            thread_refs=refs,
        )

    def _status(self, item: dict[str, Any]) -> DeliveryUpdate | None:
        external_id, raw = str(item.get("id", "")), str(item.get("status", ""))
        if not external_id:
            return None
        at = from_seconds(item.get("timestamp"))
        if raw != "failed":
            status = STATUSES.get(raw)
            return DeliveryUpdate(external_id, status, at=at) if status else None
        errors = dicts(item.get("errors"))
        first = errors[0] if errors else {}
        code = first.get("code")
        known = WHATSAPP_REASONS.get(int(code)) if isinstance(code, int) else None
        title = str(first.get("title") or first.get("message") or "delivery failed")
        details = obj(first.get("error_data")).get("details")
        error = known or title
        if details and details != error:
            error = f"{error} — {details}"
        return DeliveryUpdate(
            external_id,
            "failed",
            at=at,
            error_code=str(code) if code is not None else None,
            error=error,
        )

    def _preference(self, item: dict[str, Any]) -> ConsentChange | None:
        """Marketing stop/resume: a *marketing* opt-out only (service replies still go)."""
        value, wa_id = item.get("value"), str(item.get("wa_id", ""))
        if not wa_id or item.get("category") != "marketing_messages":
            return None
        status = {"stop": "revoked", "resume": "granted"}.get(str(value))
        reason = f"whatsapp:marketing_messages:{value}"
        key = self._phone_or_handle(wa_id)
        return ConsentChange(key, status, reason, purpose="marketing") if status else None

    # --- outbound --------------------------------------------------------------------------

    @classmethod
    def address_from_identities(
        cls, identities: list[tuple[str, str, str]], channel_name: str
    ) -> dict[str, Any] | None:
        phones = [value for kind, _scope, value in identities if kind == "phone"]
        return {"to": phones[0]} if phones else None

    def _content_body(self, message: OutboundMessage) -> dict[str, Any]:
        if message.template:
            return {"type": "template", "template": self._template(message.template)}
        text, buttons = message.text, message.buttons
        fit = buttons_fit(buttons, MAX_BUTTONS, MAX_BUTTON_TITLE, MAX_BUTTON_ID)
        if fit and len(text) <= MAX_INTERACTIVE_BODY:
            replies = [{"type": "reply", "reply": {"id": b.id, "title": b.title}} for b in buttons]
            return {
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": text},
                    "action": {"buttons": replies},
                },
            }
        text = text_with_choices(text, buttons)
        if len(text) > MAX_TEXT:
            raise PermanentSendError(
                f"WhatsApp messages are at most {MAX_TEXT} characters (with the numbered options)",
                "too_long",
            )
        preview = "http://" in text or "https://" in text
        return {"type": "text", "text": {"preview_url": preview, "body": text}}

    def _template(self, ref: dict[str, Any]) -> dict[str, Any]:
        key = ref.get("name")
        if not isinstance(key, str) or not key:
            raise PermanentSendError("a WhatsApp template needs a name", "bad_template")
        configured = self.settings.templates.get(key)
        language = ref.get("language") or (configured.language if configured else None)
        if not language:
            raise PermanentSendError(
                f"template {key!r} is not configured on channel {self.name}; add it under "
                "settings.templates with its language",
                "unknown_template",
            )
        template: dict[str, Any] = {
            "name": (configured.name or key) if configured else key,
            "language": {"code": language},
        }
        if isinstance(ref.get("components"), list):
            template["components"] = ref["components"]  # headers, buttons: as Meta takes them
            return template
        parameters = self._parameters(key, ref.get("params"), configured)
        if parameters:
            template["components"] = [{"type": "body", "parameters": parameters}]
        return template

    @staticmethod
    def _parameters(
        key: str, params: Any, configured: WhatsAppTemplate | None
    ) -> list[dict[str, str]]:
        names = configured.params if configured else []
        if isinstance(params, dict) and not names:  # a template with named parameters
            return [
                {"type": "text", "parameter_name": str(k), "text": str(v)}
                for k, v in params.items()
            ]
        if isinstance(params, dict):
            missing = [name for name in names if name not in params]
            values = [params[name] for name in names if name in params]
        else:
            missing, values = [], params if isinstance(params, list) else []
        if missing or (names and len(values) != len(names)):
            wanted = ", ".join(names)
            raise PermanentSendError(
                f"template {key!r} takes the variables {wanted}; the reply gave "
                f"{len(values)} of them" + (f" (missing: {', '.join(missing)})" if missing else ""),
                "bad_template",
            )
        return [{"type": "text", "text": str(value)} for value in values]

    async def _post(self, body: dict[str, Any], http: httpx.AsyncClient) -> dict[str, Any]:
        settings = self.settings
        token = resolve_secret(settings.access_token, "access_token")
        return await post_graph(
            http,
            settings.graph_url(settings.phone_number_id),
            body,
            token=token,
            app_secret=self.app_secret_for_proof(),
            what="WhatsApp Cloud API",
            reasons=WHATSAPP_REASONS,
        )

    async def send(self, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        to = message.reply_to.get("to")
        if not to:
            raise PermanentSendError("no WhatsApp number to reply to", "no_recipient")
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": str(to),
            **self._content_body(message),
        }
        answer = await self._post(body, http)
        sent = dicts(answer.get("messages"))
        external_id = sent[0].get("id") if sent else None
        return SendResult(external_id=str(external_id) if external_id else None)

    async def mark_read(self, external_id: str, http: httpx.AsyncClient) -> None:
        """Tell WhatsApp an inbound message was read (blue ticks); for a future hook."""
        body = {"messaging_product": "whatsapp", "status": "read", "message_id": external_id}
        await self._post(body, http)
