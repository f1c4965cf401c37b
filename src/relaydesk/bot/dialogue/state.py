"""The dialogue's data: per-journey state (stored as JSON), what a channel can show, the
static kit (pack, knowledge base, texts), and the turn the policy returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from relaydesk.bot.dialogue.texts import DialogueTexts
from relaydesk.bot.kb import KbMatch, KnowledgeBase
from relaydesk.bot.pack import FactSpec, Pack

Action = Literal["continue", "resolve", "handoff"]


@dataclass(frozen=True)
class ChannelTraits:
    """What the channel can show: buttons, or numbered choices in the text."""

    buttons: bool = False
    max_text_length: int | None = None
    written: bool = True
    """False for a phone call: the bot cannot answer there, only hand off."""

    @classmethod
    def of(cls, adapter_cls: type[Any]) -> ChannelTraits:
        """From a ChannelAdapter class: ``supports_buttons`` when it says, else its
        capabilities."""
        capabilities = getattr(adapter_cls, "capabilities", None)
        flag = getattr(adapter_cls, "supports_buttons", None)
        if flag is None:
            flag = getattr(capabilities, "buttons", False)
        written = getattr(adapter_cls, "takes_written_replies", None)
        if written is None:
            written = getattr(capabilities, "channel_class", None) != "voice"
        return cls(bool(flag), getattr(capabilities, "max_text_length", None), bool(written))


@dataclass(frozen=True)
class DialogueKit:
    """Everything static the dialogue needs: the pack, the knowledge base, the texts."""

    pack: Pack
    kb: KnowledgeBase
    texts: DialogueTexts
    base_url: str = ""
    """Public URL of the hub, put in front of article links ("" keeps them relative)."""

    def fact_prompt(self, fact: FactSpec, language: str) -> str:
        """The question for a fact: the pack's in this language, else the texts', else the
        pack's English."""
        own = fact.prompt.get(language)
        return (
            own
            or self.texts.for_language(language).fact_prompts.get(fact.id)
            or (fact.prompt_for(language))
        )

    def link(self, match: KbMatch) -> str:
        """The article's help-centre address (the knowledge base's own when it has one)."""
        url = getattr(match, "url", None)
        if url:
            return str(url)
        path = self.texts.article_path.format(slug=match.slug, language=match.language)
        return f"{self.base_url.rstrip('/')}{path}"


@dataclass(frozen=True)
class DialogueState:
    """What the bot remembers about one journey between turns (stored as JSON)."""

    intent: str | None = None
    confidence: float = 0.0
    language: str | None = None
    asked: tuple[str, ...] = ()
    """Facts asked for, one entry per ask."""
    offered: tuple[str, ...] = ()
    """Article slugs already given, in order."""
    alternatives: tuple[str, ...] = ()
    """Other articles for the current topic, best first (tried after a "no")."""
    awaiting: str | None = None
    """The bot's open question: fact, confirm, offer_person or rephrase."""
    awaiting_fact: str | None = None
    out_of_scope_streak: int = 0
    turns: int = 0
    updated_at: datetime | None = None
    transcript: tuple[str, ...] = ()
    """Ids of the messages the bot handled and sent (kept by bot/actions.py)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "confidence": self.confidence,
            "language": self.language,
            "asked": list(self.asked),
            "offered": list(self.offered),
            "alternatives": list(self.alternatives),
            "awaiting": self.awaiting,
            "awaiting_fact": self.awaiting_fact,
            "out_of_scope_streak": self.out_of_scope_streak,
            "turns": self.turns,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "transcript": list(self.transcript),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> DialogueState:
        """Tolerant of missing keys, so state written by an older version still loads."""
        raw = raw or {}
        stamp = raw.get("updated_at")
        return cls(
            intent=raw.get("intent"),
            confidence=float(raw.get("confidence") or 0.0),
            language=raw.get("language"),
            asked=tuple(raw.get("asked") or ()),
            offered=tuple(raw.get("offered") or ()),
            alternatives=tuple(raw.get("alternatives") or ()),
            awaiting=raw.get("awaiting"),
            awaiting_fact=raw.get("awaiting_fact"),
            out_of_scope_streak=int(raw.get("out_of_scope_streak") or 0),
            turns=int(raw.get("turns") or 0),
            updated_at=datetime.fromisoformat(stamp) if stamp else None,
            transcript=tuple(raw.get("transcript") or ()),
        )

    def new_topic(self) -> DialogueState:
        """Forget the open topic (after a resolution or a long silence); keep the history."""
        return replace(
            self, intent=None, confidence=0.0, asked=(), alternatives=(), awaiting=None,
            awaiting_fact=None, out_of_scope_streak=0,
        )  # fmt: skip


def _stamp(state: DialogueState) -> float:
    return state.updated_at.timestamp() if state.updated_at else float("-inf")


def merge_states(a: DialogueState, b: DialogueState, limit: int = 200) -> DialogueState:
    """One state for two journeys folded into one (after a customer merge).

    The more recently updated state is the live conversation: its open topic and question
    carry on. What was said on either side is kept: articles offered (none is offered twice),
    facts asked, the transcript (oldest first, the last ``limit`` ids). ``turns`` adds up,
    so a turn decided from either old state is seen as stale and decided again.
    """
    older, newer = sorted((a, b), key=_stamp)

    def union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*first, *second)))

    return replace(
        newer,
        language=newer.language or older.language,
        asked=(*older.asked, *newer.asked),
        offered=union(older.offered, newer.offered),
        alternatives=tuple(s for s in newer.alternatives if s not in older.offered),
        turns=older.turns + newer.turns,
        transcript=union(older.transcript, newer.transcript)[-limit:],
    )


@dataclass(frozen=True)
class BotReply:
    text: str
    buttons: tuple[str, ...] = ()
    """Button titles, in the customer's language (empty where the text numbers them)."""
    button_ids: tuple[str, ...] = ()
    """What each button sends back when pressed (``meta.payload`` on the inbound message)."""


@dataclass(frozen=True)
class BotTurn:
    replies: tuple[BotReply, ...]
    state: DialogueState
    action: Action = "continue"
    reason: str | None = None
    """Why the bot hands off (human_request, frustrated, out_of_scope, human_only_intent,
    not_solved, no_answer)."""
    facts: dict[str, str] = field(default_factory=dict)
    """Facts learnt this turn, to merge into the journey's context."""
    missing_facts: tuple[str, ...] = ()
    """On handoff: facts the intent needs that nobody has given yet."""

    @property
    def resolves(self) -> bool:
        return self.action == "resolve"

    @property
    def hands_off(self) -> bool:
        return self.action == "handoff"
