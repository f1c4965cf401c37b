"""What the bot says and which words answer it, per language, read from the pack's
dialogue.yaml: translators edit a file, not code, and a missing string fails at load time
naming the file, the language and the key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from relaydesk.bot.fuzzy import FuzzyIndex
from relaydesk.bot.pack import DEFAULT_PACK_DIR, PackError
from relaydesk.bot.text import tokens

DEFAULT_TEXTS_PATH = DEFAULT_PACK_DIR / "dialogue.yaml"
TEXT_KEYS = (
    "greeting", "farewell", "handoff", "handoff_wait_fact", "not_understood", "fact_retry",
    "answer", "confirm", "resolved", "try_next", "offer_person", "carry_on", "choose",
)  # fmt: skip
LABEL_KEYS = ("confirm_yes", "confirm_no", "person", "connect", "no_thanks")
MAX_TRAILING_WORDS = 3
""""yes thanks a lot" still answers yes; "yes but where is my refund" is a new question."""

Polarity = Literal["affirm", "deny"]


@dataclass(frozen=True)
class Phrases:
    """One language's texts, button labels and yes/no words (folded to tokens)."""

    language: str
    texts: Mapping[str, str]
    labels: Mapping[str, str]
    affirm: tuple[tuple[str, ...], ...]
    deny: tuple[tuple[str, ...], ...]
    fuzzy: Mapping[str, FuzzyIndex] = field(default_factory=dict, compare=False, repr=False)
    fact_prompts: Mapping[str, str] = field(default_factory=dict)
    """Questions for facts in this language where the pack's own prompts lack it."""
    """Single yes/no words with one typo allowed ("tidka", "nien")."""

    def text(self, key: str) -> str:
        return self.texts[key]

    def polarity(self, said: tuple[str, ...]) -> Polarity | None:
        """Whether the words say yes or no; "no" wins ("nie pomogło" is no, not "pomogło")."""
        for name, phrases in (("deny", self.deny), ("affirm", self.affirm)):
            for phrase in phrases:
                if said[: len(phrase)] == phrase and len(said) - len(phrase) <= MAX_TRAILING_WORDS:
                    return name  # type: ignore[return-value]
        if len(said) <= MAX_TRAILING_WORDS:
            for name in ("deny", "affirm"):
                index = self.fuzzy.get(name)
                if index is not None and index.lookup(said[0]):
                    return name  # type: ignore[return-value]
        return None


@dataclass(frozen=True)
class DialogueTexts:
    languages: dict[str, Phrases]
    article_path: str = "/help/{slug}"

    def for_language(self, language: str | None) -> Phrases:
        """The customer's language, else English (every pack has it), else any."""
        found = self.languages.get(language or "") or self.languages.get("en")
        return found or next(iter(self.languages.values()))

    def labels_for(self, key: str) -> list[str]:
        """A button's label in every language: a tap is understood whatever was detected."""
        return [p.labels[key] for p in self.languages.values()]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str) -> DialogueTexts:
        languages = data.get("languages")
        if not isinstance(languages, dict) or not languages:
            raise PackError(f"{where}: languages: expected a mapping of language → texts")
        path = data.get("article_path", "/help/{slug}")
        if not isinstance(path, str) or "{slug}" not in path:
            raise PackError(f"{where}: article_path: must contain {{slug}}")
        return cls({lang: _phrases(lang, raw, where) for lang, raw in languages.items()}, path)

    @classmethod
    def load(cls, path: Path | str = DEFAULT_TEXTS_PATH) -> DialogueTexts:
        return _load(str(path))


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise PackError(f"{where}: expected a non-empty list of words")
    bad = [v for v in value if not isinstance(v, str) or not tokens(v)]
    if bad:
        raise PackError(f"{where}: not words: {bad!r} (quote yes/no/on/off in YAML)")
    return value


def _phrases(lang: str, raw: object, where: str) -> Phrases:
    at = f"{where}: languages.{lang}"
    if not isinstance(raw, dict):
        raise PackError(f"{at}: expected a mapping")
    missing = [k for k in TEXT_KEYS if not isinstance(raw.get(k), str) or not raw[k].strip()]
    labels: dict[str, Any] = raw["labels"] if isinstance(raw.get("labels"), dict) else {}
    missing += [f"labels.{k}" for k in LABEL_KEYS if not isinstance(labels.get(k), str)]
    if missing:
        raise PackError(f"{at}: missing text(s) {missing}")

    def folded(key: str) -> tuple[tuple[str, ...], ...]:
        words = {tokens(w) for w in _strings(raw.get(key), f"{at}.{key}")}
        return tuple(sorted(words, key=len, reverse=True))

    affirm, deny = folded("affirm"), folded("deny")
    facts = raw.get("facts") or {}
    if not isinstance(facts, dict) or not all(
        isinstance(v, str) and v.strip() for v in facts.values()
    ):
        raise PackError(f"{at}.facts: expected a mapping of fact → question")
    return Phrases(
        lang,
        {k: raw[k] for k in TEXT_KEYS},
        {k: labels[k] for k in LABEL_KEYS},
        affirm,
        deny,
        {
            name: FuzzyIndex([p[0] for p in phrases if len(p) == 1], max_edits=1)
            for name, phrases in (("affirm", affirm), ("deny", deny))
        },
        {str(k): v for k, v in facts.items()},
    )


@lru_cache(maxsize=8)
def _load(path: str) -> DialogueTexts:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PackError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise PackError(f"{path}: expected a mapping at the top level")
    return DialogueTexts.from_mapping(data, path)
