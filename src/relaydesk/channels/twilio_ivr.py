"""The declarative IVR of a ``twilio_voice`` channel: language → reason → digital offer.

Pure: every step is a function of the workspace settings and the step's URL. The state of
a call (its step, language, reason and attempt) travels in the query string of the
``<Gather action>`` and ``<Redirect>`` URLs, which Twilio calls back signed, so nothing is
kept in memory between a call's webhooks.

TwiML comes from the twilio SDK (VoiceResponse, Gather, Say, Redirect, Enqueue, Dial).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, model_validator
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from relaydesk.channels.content import human_request

KEY = r"^[a-z0-9][a-z0-9_-]{0,39}$"
Digit = Annotated[str, Field(pattern=r"^[0-9*#]$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IvrLanguage(_Strict):
    """One language of the menu, with everything said in it."""

    code: str = Field(pattern=r"^[a-z]{2,3}$")
    """Stored as the journey's ``ivr_language`` (sv, en, …)."""
    name: str | None = None
    say_language: str = Field(pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
    """Twilio's language for <Say> and speech recognition (sv-SE, en-GB)."""
    voice: str | None = None
    """A Twilio <Say> voice (Polly.Astrid, Google.en-GB-Standard-A); default Twilio's."""
    choose: str
    """Said in the language menu, e.g. "För svenska, tryck {digit}."."""
    welcome: str | None = None
    reason: str
    """Asks why they call, e.g. "What is your call about?"."""
    option: str
    """One reason, e.g. "For {label}, press {digit}."."""
    offer: str
    """The digital offer, e.g. "Press 1 to get a text message link and skip the queue.
    Press 2 to wait for a person."."""
    link_sent: str
    queue: str
    retry: str
    """Said before a menu is repeated ("Sorry, I did not get that.")."""


class IvrReason(_Strict):
    key: str = Field(pattern=KEY)
    """Stored as the journey's ``reason`` (billing, order, …)."""
    label: dict[str, str]
    """What the option is called in each language: {en: billing, sv: fakturor}."""


class IvrOffer(_Strict):
    """Pressing ``digit`` sends ``text`` (in the caller's language) on ``channel``."""

    channel: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")
    digit: Digit = "1"
    text: str | dict[str, str]


class IvrConfig(_Strict):
    languages: list[IvrLanguage] = Field(min_length=1, max_length=9)
    reasons: list[IvrReason] = Field(default_factory=list, max_length=9)
    offer: IvrOffer | None = None
    queue: str = Field("support", min_length=1, max_length=64)
    """The Twilio queue (<Enqueue>) callers wait in for a person."""
    dial: str | None = None
    """Instead of queueing, connect the call here (a number or sip: address) with <Dial>."""
    attempts: int = Field(2, ge=1, le=5)
    """How often a menu is played before the default (first language, no reason, queue)."""
    timeout: int = Field(5, ge=1, le=30)
    """Seconds Twilio waits for a key press."""
    person_digit: Digit | None = None
    """The key that asks for a person in any menu (say it in the menus, e.g. "Press 0 to
    talk to a person"): the call goes to a person at once and the journey records an
    explicit request for a person (``meta.requests_human``). Must not be a menu's choice."""

    @model_validator(mode="after")
    def _complete(self) -> IvrConfig:
        codes = [lang.code for lang in self.languages]
        if len(set(codes)) != len(codes):
            raise ValueError("languages: each code may appear once")
        keys = [reason.key for reason in self.reasons]
        if len(set(keys)) != len(keys):
            raise ValueError("reasons: each key may appear once")
        for reason in self.reasons:
            missing = sorted(set(codes) - set(reason.label))
            if missing:
                raise ValueError(f"reasons.{reason.key}.label: no text for {', '.join(missing)}")
        if self.person_digit is not None:
            taken = {str(n) for n in range(1, len(self.reasons) + 1)}
            if len(self.languages) > 1:
                taken |= {str(n) for n in range(1, len(self.languages) + 1)}
            if self.offer is not None:
                taken.add(self.offer.digit)
            if self.person_digit in taken:
                raise ValueError(
                    f"person_digit: {self.person_digit} is already a menu choice; use a key "
                    f"no menu uses (not {', '.join(sorted(taken))})"
                )
        if self.offer is not None and isinstance(self.offer.text, dict):
            missing = sorted(set(codes) - set(self.offer.text))
            if missing:
                raise ValueError(f"offer.text: no text for {', '.join(missing)}")
        for lang in self.languages:
            for name in ("choose", "welcome", "reason", "option", "offer", "link_sent", "queue"):
                text = getattr(lang, name)
                try:
                    (text or "").format(digit="1", label="x")
                except (KeyError, IndexError, ValueError):
                    raise ValueError(
                        f"languages.{lang.code}.{name}: only {{digit}} and {{label}} may be "
                        "filled in"
                    ) from None
        return self

    def language(self, code: str | None) -> IvrLanguage:
        return next((lang for lang in self.languages if lang.code == code), self.languages[0])

    def offer_text(self, code: str) -> str:
        assert self.offer is not None
        text = self.offer.text
        return text if isinstance(text, str) else text[code]


@dataclass(frozen=True)
class Outcome:
    """What one IVR webhook means: TwiML to answer, and what to record."""

    twiml: str
    event: str | None = None
    """A system message for the timeline (None: nothing was chosen yet)."""
    event_key: str = ""
    """Distinguishes the step in the message's external id (``<CallSid>:<event_key>``)."""
    context: dict[str, Any] = field(default_factory=dict)
    link: tuple[str, str] | None = None
    """(channel, text) to send the caller."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Meta of the timeline message (an explicit request for a person)."""


class Ivr:
    """Builds each step's TwiML; ``url`` is the channel's webhook URL as Twilio calls it."""

    def __init__(self, config: IvrConfig | None, url: str, fallback_queue: str = "support"):
        self.config = config
        self.url = url
        self.fallback_queue = fallback_queue

    def _url(self, **params: str | int | None) -> str:
        query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
        return f"{self.url}?{query}"

    @staticmethod
    def _say(parent: Any, text: str | None, lang: IvrLanguage) -> None:
        if text:
            parent.say(text, language=lang.say_language, voice=lang.voice)

    # --- menus ------------------------------------------------------------------------------

    def start(self) -> Outcome:
        """The first answer to an incoming call."""
        if self.config is None:
            return Outcome(self.connect())
        if len(self.config.languages) == 1:
            lang = self.config.languages[0]
            return Outcome(
                self._after_language(lang, VoiceResponse()), context={"ivr_language": lang.code}
            )
        return Outcome(self._language_menu(1, VoiceResponse()))

    def _language_menu(self, attempt: int, response: Any) -> str:
        assert self.config is not None
        url = self._url(step="language", attempt=attempt)
        gather = response.gather(
            action=url, method="POST", input="dtmf", num_digits=1, timeout=self.config.timeout
        )
        for digit, lang in enumerate(self.config.languages, start=1):
            self._say(gather, lang.choose.format(digit=digit), lang)
        response.redirect(url, method="POST")
        return str(response.to_xml())

    def _after_language(self, lang: IvrLanguage, response: Any) -> str:
        self._say(response, lang.welcome, lang)
        return self._reason_menu(lang, 1, response)

    def _reason_menu(self, lang: IvrLanguage, attempt: int, response: Any) -> str:
        assert self.config is not None
        if not self.config.reasons:
            return self._offer_menu(lang, None, 1, response)
        url = self._url(step="reason", lang=lang.code, attempt=attempt)
        labels = [reason.label[lang.code] for reason in self.config.reasons]
        gather = response.gather(
            action=url,
            method="POST",
            input="dtmf speech",
            num_digits=1,
            timeout=self.config.timeout,
            language=lang.say_language,
            hints=", ".join(labels),
        )
        self._say(gather, lang.reason, lang)
        for digit, label in enumerate(labels, start=1):
            self._say(gather, lang.option.format(digit=digit, label=label), lang)
        response.redirect(url, method="POST")
        return str(response.to_xml())

    def _offer_menu(
        self, lang: IvrLanguage, reason: str | None, attempt: int, response: Any
    ) -> str:
        assert self.config is not None
        if self.config.offer is None:
            return self._connect(lang, response)
        url = self._url(step="offer", lang=lang.code, reason=reason, attempt=attempt)
        gather = response.gather(
            action=url, method="POST", input="dtmf", num_digits=1, timeout=self.config.timeout
        )
        self._say(gather, lang.offer, lang)
        response.redirect(url, method="POST")
        return str(response.to_xml())

    def connect(self) -> str:
        """TwiML that hands the call straight to a person."""
        return self._connect(None, VoiceResponse())

    def _connect(self, lang: IvrLanguage | None, response: Any) -> str:
        """Hand the call to a person: <Enqueue> in the queue, or <Dial> when configured."""
        if lang is not None:
            self._say(response, lang.queue, lang)
        if self.config is not None and self.config.dial:
            response.dial(self.config.dial)
        else:
            response.enqueue(self.config.queue if self.config else self.fallback_queue)
        return str(response.to_xml())

    # --- answers ----------------------------------------------------------------------------

    def handle(self, step: str, params: dict[str, str], digits: str, speech: str) -> Outcome | None:
        """The next TwiML after a Gather (or its no-input Redirect); None for an unknown step."""
        if self.config is None:
            return None
        try:
            attempt = max(1, int(params.get("attempt", "1")))
        except ValueError:
            attempt = 1
        lang = self.config.language(params.get("lang"))
        if step in ("language", "reason", "offer") and digits == self.config.person_digit:
            return self._on_person(lang, digits)
        if step == "language":
            return self._on_language(digits, attempt)
        if step == "reason":
            return self._on_reason(lang, digits, speech, attempt)
        if step == "offer":
            reason = params.get("reason") or None
            return self._on_offer(lang, reason, digits, attempt)
        return None

    def _on_person(self, lang: IvrLanguage, digits: str) -> Outcome:
        """The caller pressed the "talk to a person" key: connect them, and say so."""
        return Outcome(
            self._connect(lang, VoiceResponse()),
            event="IVR: asked to talk to a person",
            event_key="person",
            context={"ivr_language": lang.code},
            meta=human_request("ivr_key", key=digits),
        )

    def _retry(self, lang: IvrLanguage, attempt: int) -> tuple[bool, Any]:
        """(whether to play the menu again, the response started with the retry prompt)."""
        assert self.config is not None
        response = VoiceResponse()
        again = attempt < self.config.attempts
        if again:
            self._say(response, lang.retry, lang)
        return again, response

    def _on_language(self, digits: str, attempt: int) -> Outcome:
        assert self.config is not None
        languages = self.config.languages
        chosen = (
            languages[int(digits) - 1]
            if digits.isdigit() and 0 < int(digits) <= len(languages)
            else None
        )
        if chosen is None:
            again, response = self._retry(languages[0], attempt)
            if again:
                return Outcome(self._language_menu(attempt + 1, response))
            chosen = languages[0]
            event = f"IVR: no language chosen; continuing in {chosen.name or chosen.code}"
        else:
            event = f"IVR: language {chosen.name or chosen.code} ({chosen.code})"
        return Outcome(
            self._after_language(chosen, VoiceResponse()),
            event=event,
            event_key="language",
            context={"ivr_language": chosen.code},
        )

    def _match_reason(self, lang: IvrLanguage, digits: str, speech: str) -> IvrReason | None:
        assert self.config is not None
        reasons = self.config.reasons
        if digits.isdigit() and 0 < int(digits) <= len(reasons):
            return reasons[int(digits) - 1]
        said = speech.casefold()
        if not said:
            return None
        heard = said.split()
        for reason in reasons:
            label = reason.label[lang.code].casefold()
            if label in said or any(
                _similar(word, spoken) for word in label.split() for spoken in heard
            ):
                return reason
        return None

    def _on_reason(self, lang: IvrLanguage, digits: str, speech: str, attempt: int) -> Outcome:
        reason = self._match_reason(lang, digits, speech)
        if reason is None:
            again, response = self._retry(lang, attempt)
            if again:
                return Outcome(self._reason_menu(lang, attempt + 1, response))
            return Outcome(
                self._offer_menu(lang, None, 1, VoiceResponse()),
                event="IVR: no reason chosen",
                event_key="reason",
            )
        said = f' (said: "{speech.strip()}")' if speech.strip() and not digits else ""
        return Outcome(
            self._offer_menu(lang, reason.key, 1, VoiceResponse()),
            event=f"IVR: calling about {reason.label[lang.code]} ({reason.key}){said}",
            event_key="reason",
            context={"reason": reason.key},
        )

    def _on_offer(
        self, lang: IvrLanguage, reason: str | None, digits: str, attempt: int
    ) -> Outcome:
        assert self.config is not None
        offer = self.config.offer
        if offer is None:
            return Outcome(self._connect(lang, VoiceResponse()))
        if digits == offer.digit:
            response = VoiceResponse()
            self._say(response, lang.link_sent, lang)
            response.hangup()
            return Outcome(
                str(response.to_xml()),
                event=f"IVR: asked for a link on {offer.channel} instead of waiting",
                event_key="offer",
                context={"ivr_offer": "accepted"},
                link=(offer.channel, self.config.offer_text(lang.code)),
            )
        if not digits:
            again, response = self._retry(lang, attempt)
            if again:
                return Outcome(self._offer_menu(lang, reason, attempt + 1, response))
        return Outcome(
            self._connect(lang, VoiceResponse()),
            event="IVR: waiting for a person" + ("" if digits else " (no choice made)"),
            event_key="offer",
            context={"ivr_offer": "declined"},
        )


def _similar(a: str, b: str) -> bool:
    """Two words share a stem: "invoice"/"invoices", "fakturor"/"fakturan"."""
    a, b = a.strip(".,!?;:"), b.strip(".,!?;:")
    shortest = min(len(a), len(b))
    shared = next((i for i in range(shortest) if a[i] != b[i]), shortest)
    return shared >= 4 and shared >= min(len(a), len(b)) - 2
