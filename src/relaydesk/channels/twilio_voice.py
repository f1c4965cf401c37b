"""Twilio Voice (``twilio_voice``): calls join the caller's journey, with a digital IVR.

All of a call's webhooks arrive signed at ``/hooks/<name>``:

- the incoming call (no ``step``): an "Incoming call" system message opens or joins the
  caller's journey, answered with the IVR's first menu;
- each ``<Gather>`` answer (``?step=language|reason|offer&…``): a system message on the
  timeline and journey ``context`` (``ivr_language``, ``reason``, ``ivr_offer``); pressing
  the offer's digit asks for the link to be sent on the configured SMS/WhatsApp channel
  (an ``OutboundRequest``, so it joins the same journey) and says goodbye; otherwise the
  call waits for a person (``<Enqueue>``, or ``<Dial>``);
- the call's status callback (``completed`` with ``CallDuration``, or busy/failed/
  no-answer/canceled; ``?step=status`` or the same URL): the end and duration on the timeline.

The IVR's state is in the URLs Twilio calls back (see twilio_ivr.py), never in memory.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import httpx
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from relaydesk.channels.base import (
    Capabilities,
    ChannelAdapter,
    ChannelConfig,
    InboundMessage,
    OutboundMessage,
    OutboundRequest,
    ParsedWebhook,
    PayloadError,
    PermanentSendError,
    Sender,
    SendResult,
    WebhookReply,
    WebhookRequest,
)
from relaydesk.channels.twilio_common import TwilioConfig, TwilioForm, phone_of, read_form
from relaydesk.channels.twilio_common import verify_twilio as _verify
from relaydesk.channels.twilio_ivr import Ivr, IvrConfig, Outcome
from relaydesk.customers.identities import Assurance, identity_key

FINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
ENDINGS = {
    "busy": "Call not connected: busy",
    "failed": "Call failed",
    "no-answer": "Call not answered",
    "canceled": "Call hung up before it was answered",
}


WITHHELD_CALLER_IDS = frozenset(
    {"+266696687", "+86282452253", "+8656696", "+2562533", "+7378742833"}
)
"""What carriers and Twilio put in From for a withheld number: ANONYMOUS, UNAVAILABLE, UNKNOWN,
BLOCKED and RESTRICTED typed on a keypad. Some are valid E.164: never a customer's phone."""


class TwilioVoiceConfig(TwilioConfig):
    ivr: IvrConfig | None = None
    """The menu callers hear; without it, calls go straight to the queue."""
    queue: str = "support"
    """The Twilio queue (<Enqueue>) used when there is no IVR."""


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def caller(form: TwilioForm, channel_name: str) -> Sender:
    """The caller as Twilio asserts them: a phone number, or a Twilio Client / SIP identity;
    an anonymous caller is known only for this call."""
    raw = (form.get("From") or form.get("Caller")).strip()
    phone = None if raw in WITHHELD_CALLER_IDS else phone_of(raw)
    if phone is not None:
        key = phone
    elif raw.startswith(("client:", "sip:")):
        key = identity_key("handle", raw, scope=channel_name)
    else:
        key = identity_key("handle", f"call:{form.get('CallSid')}", scope=channel_name)
    return Sender(
        identities=((key, Assurance.PROVIDER.value),), name=form.get("CallerName") or None
    )


class TwilioVoiceChannel(ChannelAdapter):
    kind: ClassVar[str] = "twilio_voice"
    Config: ClassVar[type[ChannelConfig]] = TwilioVoiceConfig
    capabilities: ClassVar[Capabilities] = Capabilities(channel_class="voice")
    takes_written_replies: ClassVar[bool] = False

    @property
    def settings(self) -> TwilioVoiceConfig:
        assert isinstance(self.config, TwilioVoiceConfig)
        return self.config

    def describe(self) -> dict[str, Any]:
        ivr = self.settings.ivr
        return {
            "webhook": f"/hooks/{self.name}",
            "status_callback": f"/hooks/{self.name}?step=status",
            "phone_number": self.settings.phone_number,
            "ivr": (
                {
                    "languages": [lang.code for lang in ivr.languages],
                    "reasons": [reason.key for reason in ivr.reasons],
                    "offer_channel": ivr.offer.channel if ivr.offer else None,
                    "connect": "dial" if ivr.dial else f"queue {ivr.queue}",
                    "person_digit": ivr.person_digit,
                }
                if ivr
                else None
            ),
        }

    async def verify(self, request: WebhookRequest) -> None:
        _verify(request, self.settings)

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        form = read_form(request)
        call_sid = form.get("CallSid")
        if not call_sid:
            raise PayloadError("a Twilio Voice webhook needs CallSid")
        query = dict(request.query)
        step = query.get("step", "")
        status = form.get("CallStatus").strip().lower()
        if step == "status" or (not step and status in FINAL_CALL_STATUSES):
            return self._status(form, status)
        ivr = Ivr(self.settings.ivr, request.url.split("?", 1)[0], self.settings.queue)
        if not step:
            outcome = ivr.start()
            message = self._message(form, "call", "Incoming call", outcome.context)
            return ParsedWebhook(messages=[message], reply=_twiml(outcome.twiml))
        digits = form.get("Digits").strip()
        # a step from an older IVR (the file changed mid-call): hand the caller to a person
        outcome = ivr.handle(step, query, digits, form.get("SpeechResult")) or Outcome(
            ivr.connect()
        )
        parsed = ParsedWebhook(reply=_twiml(outcome.twiml))
        if outcome.event:
            message = self._message(form, outcome.event_key, outcome.event, outcome.context)
            if outcome.meta:
                message = replace(message, meta={**message.meta, **outcome.meta})
            parsed.messages.append(message)
            if outcome.link is not None:
                channel, text = outcome.link
                parsed.outbound.append(OutboundRequest(for_message=0, channel=channel, text=text))
        return parsed

    def _message(
        self, form: TwilioForm, key: str, text: str, context: dict[str, Any]
    ) -> InboundMessage:
        meta: dict[str, Any] = {"provider": "twilio", "call_sid": form.get("CallSid")}
        for field, name in (
            ("CallStatus", "call_status"),
            ("Direction", "direction"),
            ("FromCountry", "caller_country"),
            ("StirVerstat", "stir_verstat"),
        ):
            if form.get(field):
                meta[name] = form.get(field)
        if key == "call" and phone_of(form.get("To")) is not None:
            meta["to"] = form.get("To")
        return InboundMessage(
            channel=self.name,
            external_id=f"{form.get('CallSid')}:{key}",
            sender=caller(form, self.name),
            text=text,
            context=context,
            meta=meta,
            opens_window=False,
            author_type="system",
        )

    def _status(self, form: TwilioForm, status: str) -> ParsedWebhook:
        parsed = ParsedWebhook(reply=_twiml(str(VoiceResponse().to_xml())))
        if status not in FINAL_CALL_STATUSES:
            return parsed  # initiated / ringing / answered: nothing to record
        text, meta = ENDINGS.get(status, "Call ended"), {}
        if status == "completed":
            try:
                seconds = int(form.get("CallDuration"))  # (Duration is billed minutes)
            except ValueError:
                text = "Call ended"
            else:
                text, meta = f"Call ended after {_duration(seconds)}", {"duration_s": seconds}
        message = self._message(form, "end", text, {})
        parsed.messages.append(replace(message, meta={**message.meta, **meta}))
        return parsed

    async def send(self, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        raise PermanentSendError(
            f"{self.kind}: a phone call cannot carry a written reply; reply on SMS or WhatsApp",
            "not_supported",
        )


def _twiml(xml: str) -> WebhookReply:
    return WebhookReply(body=xml.encode(), content_type="text/xml")
