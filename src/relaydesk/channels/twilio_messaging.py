"""Twilio Programmable Messaging: SMS/MMS (``twilio_sms``) and WhatsApp (``twilio_whatsapp``).

One webhook URL, ``/hooks/<name>``, takes both the incoming-message webhook and the status
callbacks (told apart by ``MessageStatus``). Incoming messages are answered with empty TwiML,
so Twilio sends nothing itself; replies go out later through the Messages API.

Opt-out mirrors Twilio: a single-word STOP (and the rest of Twilio's default list) revokes
consent for the channel, START/YES/UNSTOP grants it again, HELP/INFO are marked; with
Advanced Opt-Out Twilio names the keyword's type in ``OptOutType``, which wins. A send that
fails with 21610 revokes consent too. The keyword message itself is stored like any other.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, ClassVar

import httpx
from pydantic import AnyHttpUrl, Field, model_validator
from twilio.twiml.messaging_response import MessagingResponse  # type: ignore[import-untyped]

from relaydesk.channels.base import (
    Capabilities,
    ChannelAdapter,
    ChannelConfig,
    ChannelMisconfigured,
    ConsentChange,
    DeliveryUpdate,
    InboundMessage,
    OutboundMessage,
    ParsedWebhook,
    PayloadError,
    PermanentSendError,
    Sender,
    SendResult,
    WebhookReply,
    WebhookRequest,
)
from relaydesk.channels.content import text_with_choices
from relaydesk.channels.twilio_common import (
    ERROR_REASONS,
    TwilioConfig,
    TwilioForm,
    phone_of,
    post_to_twilio,
    read_form,
    verify_twilio,
)
from relaydesk.customers.identities import Assurance, identity_key

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})
"""Twilio's default keyword lists (Advanced Opt-Out tutorial); single-word messages only."""

STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read"}
FAILURES = frozenset({"failed", "undelivered", "canceled"})
"""Other statuses (queued, sending, accepted, scheduled, partially_delivered, receiving,
received) say nothing final about delivery and are ignored."""

EMPTY_TWIML = str(MessagingResponse().to_xml()).encode()
"""The answer to every messaging webhook: Twilio sends nothing itself."""

MAX_BODY = 1600
MAX_MEDIA = 10
"""Twilio's limit on a message Body, in characters (SMS and WhatsApp)."""


class TwilioMessagingConfig(TwilioConfig):
    messaging_service_sid: str | None = Field(None, pattern=r"^MG[0-9a-fA-F]{32}$")
    """Send through this Messaging Service (Twilio picks the sender) instead of phone_number."""
    status_callback: bool | AnyHttpUrl = False
    """true: Twilio reports sent/delivered/read/failed to /hooks/<name> on
    RELAYDESK_PUBLIC_URL; a URL: to that URL; false: only if the Console sets one."""
    templates: dict[str, str] = Field(default_factory=dict)
    """Approved Content templates by name: {order_update: HX…} (the ContentSid)."""
    opt_out_keywords: bool = True
    """Mirror STOP/START keywords into the customer's consent for this channel."""

    @model_validator(mode="after")
    def _has_sender(self) -> TwilioMessagingConfig:
        if not self.phone_number and not self.messaging_service_sid:
            raise ValueError("set phone_number or messaging_service_sid (the sender)")
        for name, sid in self.templates.items():
            if not (sid.startswith("HX") and len(sid) == 34):
                raise ValueError(f"templates.{name}: expected a ContentSid (HX + 32 characters)")
        return self


def status_callback_url(setting: bool | AnyHttpUrl, channel_name: str) -> str | None:
    """The StatusCallback to ask for: the hub's own /hooks/<name>, a given URL, or none."""
    if setting is False:
        return None
    if setting is True:
        from relaydesk.settings import get_settings

        public = get_settings().public_url
        if not public:
            raise ChannelMisconfigured(
                "status_callback: true needs RELAYDESK_PUBLIC_URL (the hub's public https URL)"
            )
        return f"{public}/hooks/{channel_name}"
    return str(setting)


def keyword_of(form: TwilioForm) -> str | None:
    """STOP, START or HELP when the message is an opt-out, opt-in or help keyword."""
    declared = form.get("OptOutType").strip().upper()
    if declared in ("STOP", "START", "HELP"):
        return declared
    word = form.get("Body").strip().upper()
    if not word or len(word.split()) != 1:
        return None
    if word in OPT_OUT:
        return "STOP"
    if word in OPT_IN:
        return "START"
    return "HELP" if word in HELP else None


def _media(form: TwilioForm) -> list[dict[str, str]]:
    try:
        count = int(form.get("NumMedia", "0") or 0)
    except ValueError:
        count = 0
    return [
        {"url": form.get(f"MediaUrl{i}"), "content_type": form.get(f"MediaContentType{i}")}
        for i in range(min(count, 10))
        if form.get(f"MediaUrl{i}")
    ]


class TwilioSmsChannel(ChannelAdapter):
    kind: ClassVar[str] = "twilio_sms"
    Config: ClassVar[type[ChannelConfig]] = TwilioMessagingConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        attachments=True, max_text_length=MAX_BODY, channel_class="messaging", receipts=True
    )
    address_prefix: ClassVar[str] = ""

    @property
    def settings(self) -> TwilioMessagingConfig:
        assert isinstance(self.config, TwilioMessagingConfig)
        return self.config

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "webhook": f"/hooks/{self.name}",
            "sender": s.messaging_service_sid or s.phone_number,
            "status_callback": (
                f"/hooks/{self.name}"
                if s.status_callback is True
                else str(s.status_callback or "as set in the Twilio Console")
            ),
            "templates": sorted(s.templates),
        }

    async def verify(self, request: WebhookRequest) -> None:
        verify_twilio(request, self.settings)

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        form = read_form(request)
        parsed = ParsedWebhook(reply=WebhookReply(body=EMPTY_TWIML, content_type="text/xml"))
        status = form.get("MessageStatus").strip().lower()
        if status and status not in ("received", "receiving"):
            update = self._delivery(form)
            if update is not None:
                parsed.deliveries.append(update)
            return parsed
        message = self._inbound(form)
        parsed.messages.append(message)
        keyword = message.meta.get("keyword")
        if keyword in ("STOP", "START") and self.settings.opt_out_keywords:
            identity = message.sender.identities[0][0]
            status = "revoked" if keyword == "STOP" else "granted"
            parsed.consent.append(ConsentChange(identity, status, f"keyword:{keyword}"))
        return parsed

    def _inbound(self, form: TwilioForm) -> InboundMessage:
        sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid")
        sender = form.get("From").removeprefix("whatsapp:").strip()
        if not sid or not sender:
            raise PayloadError("a Twilio message needs MessageSid and From")
        # a short code or alphanumeric sender is known on this channel only
        phone = phone_of(sender) or identity_key("handle", sender, scope=self.name)
        media = _media(form)
        body = form.get("Body")
        text = body or ", ".join(f"[{m['content_type'] or 'attachment'}]" for m in media)
        meta: dict[str, Any] = {"provider": "twilio"}
        if media:
            meta["media"] = media
        keyword = keyword_of(form)
        if keyword:
            meta["keyword"] = keyword
        for field, key in (
            ("NumSegments", "segments"),
            ("MessageType", "message_type"),
            ("ButtonText", "button_text"),
            ("ButtonPayload", "button_payload"),
            ("FromCountry", "country"),
        ):
            if form.get(field):
                meta[key] = form.get(field)
        if form.get("Latitude") and form.get("Longitude"):
            meta["location"] = {
                "latitude": form.get("Latitude"),
                "longitude": form.get("Longitude"),
            }
        ours = phone_of(form.get("To"))
        replied = form.get("OriginalRepliedMessageSid")
        return InboundMessage(
            channel=self.name,
            external_id=sid,
            sender=Sender(
                identities=((phone, Assurance.PROVIDER.value),),
                name=form.get("ProfileName") or None,
            ),
            text=text,
            meta=meta,
            reply_to={"to": phone.value, **({"from": ours.value} if ours else {})},
            thread_refs=(replied,) if replied else (),
        )

    def _delivery(self, form: TwilioForm) -> DeliveryUpdate | None:
        sid = form.get("MessageSid") or form.get("SmsSid")
        status = form.get("MessageStatus").strip().lower()
        if not sid:
            raise PayloadError("a Twilio status callback needs MessageSid")
        if status in STATUSES:
            return DeliveryUpdate(external_id=sid, status=STATUSES[status])
        if status not in FAILURES:
            return None
        code = form.get("ErrorCode") or None
        reason = ERROR_REASONS.get(code or "", form.get("ErrorMessage") or "")
        return DeliveryUpdate(
            external_id=sid,
            status="failed",
            error_code=code or status,
            error=f"Twilio: {status}" + (f" ({code}: {reason})" if code else ""),
            opted_out=code == "21610",
        )

    def _address(self, phone: str) -> str:
        return f"{self.address_prefix}{phone}"

    async def send(self, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        s = self.settings
        to = message.reply_to.get("to")
        if not to:
            raise PermanentSendError(f"{self.kind}: no phone number to send to", "no_address")
        data: dict[str, str | list[str]] = {"To": self._address(str(to))}
        if s.messaging_service_sid:
            data["MessagingServiceSid"] = s.messaging_service_sid
        else:
            assert s.phone_number is not None
            data["From"] = self._address(s.phone_number)
        if message.template:
            data.update(self._template_fields(message.template))
        else:
            data["Body"] = text_with_choices(message.text, message.buttons)  # no buttons
        if message.attachments:  # MMS / WhatsApp media: Twilio fetches each URL
            if len(message.attachments) > MAX_MEDIA:
                raise PermanentSendError(
                    f"{self.kind}: at most {MAX_MEDIA} attachments in one message", "too_many_media"
                )
            data["MediaUrl"] = [item.url for item in message.attachments]
        callback = status_callback_url(s.status_callback, self.name)
        if callback:
            data["StatusCallback"] = callback
        answer = await post_to_twilio(http, s, "Messages.json", data, "Messages API")
        sid = answer.get("sid")
        return SendResult(external_id=str(sid) if sid else None, status="sent")

    def _template_fields(self, template: dict[str, Any]) -> dict[str, str]:
        """{"name": "order_update", "variables": {"1": "Sam"}} or {"content_sid": "HX…"}."""
        sid = template.get("content_sid")
        name = template.get("name")
        if not sid and name is not None:
            sid = self.settings.templates.get(str(name))
            if sid is None:
                known = ", ".join(sorted(self.settings.templates)) or "none"
                raise PermanentSendError(
                    f"{self.kind}: unknown template {name!r} (configured: {known})",
                    "unknown_template",
                )
        if not sid:
            raise PermanentSendError(
                f"{self.kind}: a template needs a name or a content_sid", "unknown_template"
            )
        fields = {"ContentSid": str(sid)}
        variables = template.get("variables")
        if variables:
            fields["ContentVariables"] = json.dumps(
                {str(k): str(v) for k, v in dict(variables).items()}, ensure_ascii=False
            )
        return fields

    @classmethod
    def address_from_identities(
        cls, identities: list[tuple[str, str, str]], channel_name: str
    ) -> dict[str, Any] | None:
        phones = [value for kind, _scope, value in identities if kind == "phone"]
        return {"to": phones[0]} if phones else None


class TwilioWhatsAppChannel(TwilioSmsChannel):
    """WhatsApp through Twilio: addresses carry ``whatsapp:``; outside the customer's 24-hour
    window only an approved template (ContentSid + ContentVariables) may be sent."""

    kind: ClassVar[str] = "twilio_whatsapp"
    capabilities: ClassVar[Capabilities] = Capabilities(
        attachments=True,
        max_text_length=MAX_BODY,
        channel_class="messaging",
        reply_window=timedelta(hours=24),
        outside_window="template",
        receipts=True,
    )
    address_prefix: ClassVar[str] = "whatsapp:"
