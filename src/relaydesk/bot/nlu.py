"""NluModel: one call from a customer message to everything the bot and the router need.

`parse()` returns exactly the shape of `POST /api/v1/bot/parse`: language, intent,
confidence, entities, human_request, out_of_scope, sentiment. The model is trained from a
workspace's intents (`{intent: {language: [examples]}}`), is picklable, and holds no clock,
database or network handle, so the hub and the simulator run the same code.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from relaydesk.bot.entities import extract_entities
from relaydesk.bot.human_request import detect as detect_human_request
from relaydesk.bot.language import SUPPORTED, detect_language
from relaydesk.bot.pack import Pack
from relaydesk.bot.sentiment import analyse
from relaydesk.bot.text import MAX_HUMAN_REQUEST_CHARS, for_understanding

if TYPE_CHECKING:  # scikit-learn is imported by training, not by importing the bot
    import numpy as np

    from relaydesk.bot.classifier import TextClassifier
    from relaydesk.bot.embeddings import EnsembleClassifier

OUT_OF_SCOPE = "__out_of_scope__"
HUMAN_REQUEST = "human_request"
# Intents that carry no topic: a human request wins over them, not over "order_status".
_NO_TOPIC = frozenset({None, "greeting", "goodbye", HUMAN_REQUEST})

Examples = Mapping[str, Mapping[str, Sequence[str]]]
PARSES_KEPT = 256
"""Recent parses a model remembers: routing and the bot understand the same customer message
one after the other in the worker, and the parse is the same (the model is deterministic)."""


@dataclass(frozen=True)
class ParseResult:
    language: str
    intent: str | None
    confidence: float
    entities: list[dict[str, Any]] = field(default_factory=list)
    human_request: bool = False
    out_of_scope: bool = False
    sentiment: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The parse API's response body."""
        return {
            "language": self.language,
            "intent": self.intent,
            "confidence": self.confidence,
            "entities": [dict(e) for e in self.entities],
            "human_request": self.human_request,
            "out_of_scope": self.out_of_scope,
            "sentiment": dict(self.sentiment),
        }


def _flatten(examples: Examples) -> tuple[list[str], list[str], list[str]]:
    texts, intents, langs = [], [], []
    for intent, per_lang in examples.items():
        for lang, items in per_lang.items():
            for text in items:
                if text.strip():
                    texts.append(text)
                    intents.append(intent)
                    langs.append(lang)
    return texts, intents, langs


class NluModel:
    """Intent classifier + language model trained on one workspace's examples."""

    def __init__(
        self,
        classifier: TextClassifier | EnsembleClassifier,
        language_model: TextClassifier | None,
        intents: Sequence[str],
        languages: Sequence[str],
        out_of_scope_threshold: float,
    ) -> None:
        self.classifier = classifier
        self.language_model = language_model
        self.intents = tuple(intents)
        self.languages = tuple(languages)
        self.out_of_scope_threshold = out_of_scope_threshold
        self._parses: OrderedDict[tuple[str, str | None, tuple[str, ...]], ParseResult] = (
            OrderedDict()
        )
        self._parses_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_parses", None)  # a cache, and locks do not pickle
        state.pop("_parses_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._parses = OrderedDict()
        self._parses_lock = threading.Lock()

    @classmethod
    def train(
        cls,
        examples: Examples,
        *,
        out_of_scope_examples: Mapping[str, Sequence[str]] | None = None,
        out_of_scope_threshold: float = 0.5,
        c: float = 1.0,
        backend: str = "tfidf",
    ) -> NluModel:
        """Train from `{intent: {language: [examples]}}`; personal data is redacted first.

        `out_of_scope_examples` (`{language: [texts]}`) teach the model what is not a
        customer-service request; anything scoring under the threshold is out of scope too.
        ``backend``: ``tfidf`` (default) or ``ensemble`` (TF-IDF + sentence embeddings, needs
        the ``embeddings`` extra).
        """
        from relaydesk.bot.classifier import TextClassifier
        from relaydesk.bot.embeddings import make_classifier

        texts, intents, langs = _flatten(examples)
        if not texts:
            raise ValueError("no training examples")
        labels = list(intents)
        for lang, items in (out_of_scope_examples or {}).items():
            for text in items:
                texts.append(text)
                labels.append(OUT_OF_SCOPE)
                langs.append(lang)
        classifier = make_classifier(backend, c=c).fit(texts, labels)
        known = sorted(set(langs) & set(SUPPORTED))
        language_model = None
        if len(known) >= 2:
            pairs = [(t, lang) for t, lang in zip(texts, langs, strict=True) if lang in known]
            language_model = TextClassifier(calibrate=False).fit(
                [t for t, _ in pairs], [g for _, g in pairs]
            )
        return cls(classifier, language_model, sorted(set(intents)), known, out_of_scope_threshold)

    @classmethod
    def from_pack(cls, pack: Pack) -> NluModel:
        return cls.train(
            pack.examples,
            out_of_scope_examples=pack.out_of_scope_examples,
            out_of_scope_threshold=pack.out_of_scope_threshold,
        )

    def rank(self, text: str, top: int = 3) -> list[tuple[str, float]]:
        """Top intents with probabilities (may include the out-of-scope label)."""
        return self.classifier.ranked(text, top)

    def detect_language(self, text: str, hint: str | None = None) -> str:
        prior = None
        if self.language_model is not None:
            prior = dict(self.language_model.ranked(text, top=len(self.languages)))
        return detect_language(text, hint=hint, prior=prior).language

    def classify(self, text: str) -> tuple[str | None, float, bool]:
        """(intent or None, confidence, out_of_scope) from the classifier alone.

        Out of scope: the off-topic class wins, or the in-scope score (top probability
        averaged with the similarity to the nearest training example of that intent) is
        under the threshold. ``confidence`` stays the top probability.
        """
        probs, score = self.classifier.scored_one(text)
        return self._decide(probs, score)

    def classify_batch(self, texts: Sequence[str]) -> list[tuple[str | None, float, bool]]:
        """`classify` for many texts at once (evaluation); same decisions, one matrix."""
        probs, scores = self.classifier.scored(texts)
        return [self._decide(row, float(score)) for row, score in zip(probs, scores, strict=True)]

    def _decide(self, probs: np.ndarray, score: float) -> tuple[str | None, float, bool]:
        labels = self.classifier.labels
        order = probs.argsort()[::-1]
        top = int(order[0])
        if labels[top] == OUT_OF_SCOPE:
            runner = float(probs[order[1]]) if len(order) > 1 else 0.0
            return None, round(runner, 4), True
        confidence = round(float(probs[top]), 4)
        if score < self.out_of_scope_threshold:
            return None, confidence, True
        return labels[top], confidence, False

    def parse(
        self, text: str, language: str | None = None, previous: Sequence[str] = ()
    ) -> ParseResult:
        """Understand one customer message; `previous` are the customer's earlier messages.

        The same arguments give the same result, so the last ``PARSES_KEPT`` are remembered:
        routing and the bot parse each new customer message once between them."""
        text = for_understanding(text, MAX_HUMAN_REQUEST_CHARS)  # keys stay small too
        previous = [for_understanding(p) for p in previous]
        key = (text, language, tuple(previous))
        with self._parses_lock:
            kept = self._parses.get(key)
            if kept is not None:
                self._parses.move_to_end(key)
        if kept is None:
            kept = self._parse(text, language, previous)
            with self._parses_lock:
                self._parses[key] = kept
                while len(self._parses) > PARSES_KEPT:
                    self._parses.popitem(last=False)
        # a copy of the mutable parts: a caller changing its result cannot change the next
        return replace(
            kept, entities=[dict(e) for e in kept.entities], sentiment=dict(kept.sentiment)
        )

    def _parse(self, text: str, language: str | None, previous: Sequence[str]) -> ParseResult:
        whole, text = text, for_understanding(text)  # parse() bounded both already
        lang = self.detect_language(text, hint=language)
        intent, confidence, out_of_scope = self.classify(text)
        # The rules alone decide the handoff: the classifier, trained on "agent" words, also
        # scores "my travel agent booked it" high. An intent of human_request without the
        # flag means "mentions people"; the dialogue may offer a person rather than hand off.
        wants_human = detect_human_request(whole).requested
        if wants_human and intent in _NO_TOPIC and HUMAN_REQUEST in self.intents:
            intent, confidence, out_of_scope = HUMAN_REQUEST, max(confidence, 0.99), False
        entities = [e.as_dict() for e in extract_entities(whole, lang)]
        return ParseResult(
            language=lang,
            intent=intent,
            confidence=confidence,
            entities=entities,
            human_request=wants_human,
            out_of_scope=out_of_scope,
            sentiment=analyse(text, previous).as_dict(),
        )
