"""The bot's side of a conversation: one pure step from (state, understood message) to replies.

`respond()` is the whole dialogue policy. The worker (bot/listeners.py) and the simulator call
it with a snapshot and persist what it returns (bot/actions.py); it reads no clock, database
or network (`now` is passed in), so both run exactly the same decisions.

The policy, in order: an explicit request for a person (words, or a channel control such as
the widget's button) hands off on the first ask; so do frustration and a human-only intent
(at once: the reply asks for the facts the person will need while the customer waits); an
answer to the bot's last question (a fact, "Did that solve it?", "talk to a person?") is
read next; "I don't know" twice in a row hands off. Otherwise the bot asks for the facts the
intent needs that the journey does not already have (from any channel, or the profile),
answers from the knowledge base with a link, and asks "Did that solve it?": yes resolves,
no tries the next article, then offers a person.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from relaydesk.bot.dialogue.state import (
    Action,
    BotReply,
    BotTurn,
    ChannelTraits,
    DialogueKit,
    DialogueState,
)
from relaydesk.bot.dialogue.texts import DialogueTexts, Phrases
from relaydesk.bot.kb import KbMatch
from relaydesk.bot.nlu import HUMAN_REQUEST
from relaydesk.bot.text import tokens
from relaydesk.bot.turn import TurnAnalysis

STALE_AFTER = timedelta(hours=12)
"""A question left unanswered this long is forgotten: a "yes" tomorrow answers nothing."""
MAX_FACT_ASKS = 2
"""Ask for a fact at most twice, then answer without it (the person can still ask)."""
OUT_OF_SCOPE_LIMIT = 2
"""Hand off after this many "I don't know"s in a row."""
NEW_TOPIC_CONFIDENCE = 0.8
"""While the bot waits for a fact, only a confident new intent changes the subject."""
ALTERNATIVE_MIN_SCORE = 0.2
"""A weaker knowledge-base match is not worth offering after a "no"."""

# The choices each question offers, in order: (choice, label key in the texts).
CHOICES: dict[str, tuple[tuple[str, str], ...]] = {
    "confirm": (("yes", "confirm_yes"), ("no", "confirm_no"), ("person", "person")),
    "offer_person": (("person", "connect"), ("no", "no_thanks")),
    "rephrase": (("person", "person"),),
}
PERSON_BUTTON_ID = "TALK_TO_PERSON"
"""One of channels.content.HUMAN_CONTROL_IDS."""
# What "yes"/"no" words mean as an answer to each question.
POLARITY: dict[str, dict[str, str]] = {
    "confirm": {"affirm": "yes", "deny": "no"},
    "offer_person": {"affirm": "person", "deny": "no"},
}
_NUMBER = re.compile(r"^\s*(?:#|no\.?\s*|nr\.?\s*)?([1-9])\s*[.)!]?\s*$", re.IGNORECASE)
_LOOSE_ORDER = re.compile(r"(?<![\w@])#?\s?([A-Za-z]{0,5}-?\d[\dA-Za-z-]{2,24})(?![\w@])")
_LOOSE_AMOUNT = re.compile(r"(?<![\w.,])(\d{1,7}(?:[.,]\d{1,2})?)(?![\w.,])")


def button_id(choice: str) -> str:
    """The id a choice's button carries; a pressed button comes back as ``meta.payload``.
    The person choice uses a channel-wide "talk to a person" id, so every adapter also
    marks the press as an explicit request (``meta.requests_human``)."""
    return PERSON_BUTTON_ID if choice == "person" else choice


def _choice(
    text: str,
    awaiting: str | None,
    texts: DialogueTexts,
    langs: Sequence[str],
    payload: str | None = None,
) -> str | None:
    """Which offered choice the message picks: a pressed button's id, a number, a button
    label (in any language), or yes/no words."""
    options = CHOICES.get(awaiting or "", ())
    if not options:
        return None
    if payload:
        pressed = [c for c, _ in options if button_id(c).casefold() == payload.strip().casefold()]
        if pressed:
            return pressed[0]
    number = _NUMBER.match(text)
    if number:
        index = int(number.group(1)) - 1
        return options[index][0] if index < len(options) else None
    said = tokens(text)
    if not said:
        return None
    for choice, key in options:
        if any(said == tokens(label) for label in texts.labels_for(key)):
            return choice
    meaning = POLARITY.get(awaiting or "")
    if meaning:
        for lang in dict.fromkeys(langs):
            phrases = texts.languages.get(lang)
            polarity = phrases.polarity(said) if phrases else None
            if polarity:
                return meaning[polarity]
    return None


def _loose_fact(entity: str, text: str) -> str | None:
    """A bare answer to the bot's question ("48213", "49.90") that entity rules skip."""
    if len(tokens(text)) > 6:
        return None
    if entity == "order_number":
        found = [m.group(1) for m in _LOOSE_ORDER.finditer(text)]
        found = [f for f in found if sum(c.isdigit() for c in f) >= 3]
        return found[0] if len(found) == 1 else None
    if entity == "amount":
        amounts = _LOOSE_AMOUNT.findall(text)
        return amounts[0].replace(",", ".") if len(amounts) == 1 else None
    return None


@dataclass
class _Step:
    """One turn being decided: the context every branch of the policy needs."""

    kit: DialogueKit
    channel: ChannelTraits
    analysis: TurnAnalysis
    phrases: Phrases
    state: DialogueState
    facts: dict[str, str]
    new_facts: dict[str, str]

    @property
    def language(self) -> str:
        return self.state.language or "en"

    def _tail(self, awaiting: str | None) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        """The choices as buttons (titles, ids), or as numbered lines after the text."""
        options = CHOICES.get(awaiting or "", ())
        labels = tuple(self.phrases.labels[key] for _, key in options)
        if not labels or self.channel.buttons:
            return "", labels, tuple(button_id(choice) for choice, _ in options)
        lines = "\n".join(f"{n}. {label}" for n, label in enumerate(labels, 1))
        return f"\n\n{self.phrases.text('choose')}\n{lines}", (), ()

    def _message(self, text: str, awaiting: str | None = None) -> BotReply:
        tail, buttons, ids = self._tail(awaiting)
        return BotReply(_fit(text, self.channel.max_text_length, len(tail)) + tail, buttons, ids)

    def turn(
        self,
        text: str,
        *,
        awaiting: str | None = None,
        action: Action = "continue",
        reason: str | None = None,
        missing: Sequence[str] = (),
        **changes: Any,
    ) -> BotTurn:
        state = replace(self.state, awaiting=awaiting, **changes)
        if awaiting != "fact":
            state = replace(state, awaiting_fact=None)
        return BotTurn(
            (self._message(text, awaiting),),
            state,
            action,
            reason,
            dict(self.new_facts),
            tuple(missing),
        )

    def handoff(self, reason: str) -> BotTurn:
        """Step aside; while the customer waits, ask for what the person will need."""
        intent = self.state.intent
        missing = [f.id for f in self.kit.pack.missing_facts(intent, self.facts)] if intent else []
        text = self.phrases.text("handoff")
        asked = self.state.asked
        if missing:
            prompt = self.kit.fact_prompt(self.kit.pack.facts[missing[0]], self.language)
            text += "\n\n" + self.phrases.text("handoff_wait_fact").format(prompt=prompt)
            asked += (missing[0],)
        return self.turn(text, action="handoff", reason=reason, missing=missing, asked=asked)

    def answer(self, match: KbMatch, intro: str | None = None) -> BotTurn:
        """The article with its link, then "Did that solve it?"; a long body is shortened
        to fit the channel, never the link."""
        link = self.kit.link(match)
        head = f"{intro}\n\n" if intro else ""
        confirm = "\n\n" + self.phrases.text("confirm")
        template = self.phrases.text("answer")
        body = match.body
        limit = self.channel.max_text_length
        if limit is not None:
            fixed = len(head + template.format(title=match.title, body="", link=link) + confirm)
            room = limit - fixed - len(self._tail("confirm")[0])
            if len(body) > room:
                body = body[: max(0, room - 1)].rstrip() + "…"
        text = head + template.format(title=match.title, body=body, link=link) + confirm
        return self.turn(text, awaiting="confirm", offered=(*self.state.offered, match.slug))

    def advance(self, intent: str, *, retry: bool = False) -> BotTurn:
        """Ask for the next fact the intent needs, else answer from the knowledge base."""
        pack = self.kit.pack
        for fact in pack.missing_facts(intent, self.facts):
            asks = self.state.asked.count(fact.id)
            if asks < MAX_FACT_ASKS and (retry or asks == 0):
                prompt = self.kit.fact_prompt(fact, self.language)
                text = self.phrases.text("fact_retry").format(prompt=prompt) if asks else prompt
                return self.turn(
                    text, awaiting="fact", awaiting_fact=fact.id, asked=(*self.state.asked, fact.id)
                )
        spec = pack.intents.get(intent)
        candidates = [spec.article] if spec and spec.article else []
        candidates += list(self.state.alternatives)
        return self.next_article(candidates, no_more=lambda: self.handoff("no_answer"))

    def next_article(
        self,
        candidates: Sequence[str],
        *,
        no_more: Callable[[], BotTurn],
        intro: str | None = None,
    ) -> BotTurn:
        """The first candidate article not offered yet, else ``no_more()``."""
        for slug in dict.fromkeys(candidates):
            match = None if slug in self.state.offered else self.kit.kb.variant(slug, self.language)
            if match is not None:
                return self.answer(match, intro)
        return no_more()


def _fit(text: str, limit: int | None, reserve: int = 0) -> str:
    if limit is None or len(text) + reserve <= limit:
        return text
    return text[: max(0, limit - reserve - 1)].rstrip() + "…"


def _frustrated(sentiment: Mapping[str, Any], *, answered: bool) -> bool:
    """Frustration, except a second "no" to a yes/no question: repeating a choice is not
    repeating a complaint."""
    if not sentiment.get("frustrated"):
        return False
    return not (answered and set(sentiment.get("signals") or ()) <= {"repeated_message"})


def _new_topic(analysis: TurnAnalysis, current: str | None) -> bool:
    parse = analysis.parse
    return (
        parse.intent is not None
        and not parse.out_of_scope
        and parse.intent not in (current, "greeting", "goodbye")
        and parse.confidence >= NEW_TOPIC_CONFIDENCE
    )


def respond(
    state: DialogueState,
    analysis: TurnAnalysis,
    text: str,
    *,
    kit: DialogueKit,
    channel: ChannelTraits,
    known_facts: Mapping[str, Any] | None = None,
    requests_human: bool = False,
    payload: str | None = None,
    now: datetime,
) -> BotTurn:
    """Decide the bot's answer to one customer message.

    ``known_facts`` are the journey's context (said on any channel) and the customer's
    profile; ``requests_human`` is set by a channel control (widget button, postback, IVR
    key); ``payload`` is the id of the button the customer pressed, when the channel says.
    The returned turn holds the replies, the new state, and whether to resolve or hand off.
    """
    parse = analysis.parse
    if state.updated_at is not None and now - state.updated_at > STALE_AFTER:
        state = state.new_topic()
    langs = (parse.language, state.language or parse.language, "en")
    choice = _choice(text, state.awaiting, kit.texts, langs, payload)
    language = state.language if choice and state.language else parse.language
    known = {k: str(v) for k, v in (known_facts or {}).items() if v not in (None, "")}
    new_facts = {k: v for k, v in analysis.facts.items() if k not in known}
    step = _Step(
        kit,
        channel,
        analysis,
        kit.texts.for_language(language),
        replace(state, turns=state.turns + 1, language=language, updated_at=now),
        {**known, **new_facts},
        new_facts,
    )
    awaiting = state.awaiting
    if requests_human or parse.human_request or choice == "person":
        asked_for = requests_human or parse.human_request or awaiting != "offer_person"
        return step.handoff("human_request" if asked_for else "not_solved")
    if _frustrated(parse.sentiment, answered=choice is not None):
        return step.handoff("frustrated")
    if awaiting == "confirm" and choice == "yes":
        # solved: a later problem on the reopened journey starts with a clean slate
        step.state = replace(step.state.new_topic(), offered=())
        return step.turn(step.phrases.text("resolved"), action="resolve")
    if awaiting == "confirm" and choice == "no":
        return step.next_article(
            state.alternatives,
            intro=step.phrases.text("try_next"),
            no_more=lambda: step.turn(step.phrases.text("offer_person"), awaiting="offer_person"),
        )
    if awaiting == "offer_person" and choice == "no":
        step.state = step.state.new_topic()
        return step.turn(step.phrases.text("carry_on"))
    if awaiting == "fact" and state.awaiting_fact and state.intent:
        fact = kit.pack.facts.get(state.awaiting_fact)
        value = step.facts.get(state.awaiting_fact) or (
            _loose_fact(fact.entity, text) if fact else None
        )
        if value:
            step.facts[state.awaiting_fact] = step.new_facts[state.awaiting_fact] = value
            return step.advance(state.intent)
        if not _new_topic(analysis, state.intent):
            return step.advance(state.intent, retry=True)
    if parse.out_of_scope or "low_confidence" in analysis.handoff_reasons:
        streak = state.out_of_scope_streak + 1
        if streak >= OUT_OF_SCOPE_LIMIT:
            return step.handoff("out_of_scope")
        return step.turn(
            step.phrases.text("not_understood"), awaiting="rephrase", out_of_scope_streak=streak
        )
    step.state = replace(step.state, out_of_scope_streak=0)
    intent = parse.intent or ""
    if intent == "greeting":
        return step.turn(step.phrases.text("greeting"))
    if intent == "goodbye":
        if state.intent and state.offered and awaiting != "confirm":
            return step.turn(step.phrases.text("confirm"), awaiting="confirm")
        return step.turn(step.phrases.text("farewell"))
    if intent == HUMAN_REQUEST:  # talks about people without asking for one: offer
        return step.turn(step.phrases.text("offer_person"), awaiting="offer_person")
    if intent != state.intent:
        alternatives = tuple(
            m.slug
            for m in analysis.suggestions
            if m.score >= ALTERNATIVE_MIN_SCORE
            and not (analysis.article and m.slug == analysis.article.slug)
        )
        step.state = replace(
            step.state, intent=intent, confidence=parse.confidence, alternatives=alternatives
        )
    if "human_only_intent" in analysis.handoff_reasons:
        return step.handoff("human_only_intent")
    return step.advance(intent)
