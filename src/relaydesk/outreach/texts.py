"""Outreach texts per language (packs/default.yaml), with the workspace's overrides."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml
from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime

PACK = Path(__file__).parent / "packs" / "default.yaml"
FALLBACK = "en"
SCALES = {
    "ces": "ease",
    "csat": "satisfaction",
    "ves_confidence": "agreement",
    "ves_understanding": "agreement",
}
"""Which word list reads each question's answers (NPS takes digits only)."""


def language_of(locale: str | None, default: str) -> str:
    """``sv-SE`` → ``sv``; nothing → the workspace default."""
    if locale:
        return locale.replace("_", "-").split("-")[0].lower()
    return default


@dataclass(frozen=True)
class OutreachTexts:
    languages: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: Path = PACK) -> OutreachTexts:
        return _load(path)

    def pick(self, language: str, default: str) -> str:
        """The language we have texts in: the customer's, else the workspace's, else English."""
        for candidate in (language, default, FALLBACK):
            if candidate in self.languages:
                return candidate
        return FALLBACK

    def text(self, key: str, language: str, overrides: dict[str, str] | None = None) -> str:
        if overrides and language in overrides:
            return overrides[language]
        value = self.languages.get(language, {}).get(key) or self.languages[FALLBACK][key]
        return str(value)

    def words(self, question: str, language: str) -> dict[str, int]:
        """Answer words for ``question``: the customer's language first, then every other."""
        scale = SCALES.get(question)
        if scale is None:
            return {}
        merged: dict[str, int] = {}
        for code in sorted(self.languages, key=lambda c: c != language):
            for phrase, score in (self.languages[code].get("words", {}).get(scale) or {}).items():
                merged.setdefault(normalize(str(phrase)), int(score))
        return merged

    @cached_property
    def out_of(self) -> frozenset[tuple[str, ...]]:
        """ "of", "av", "von"… as in "6 of 7", in every language (only read before a number)."""
        return self._phrases("out_of")

    @cached_property
    def request_markers(self) -> frozenset[tuple[str, ...]]:
        """Words that make a reply a request, in every language (customers mix languages, and
        a missed request costs more than a needless pass to the bot). A word ending in ``*``
        stands for every word that starts so."""
        return self._phrases("request_markers")

    def _phrases(self, key: str) -> frozenset[tuple[str, ...]]:
        phrases = set()
        for texts in self.languages.values():
            for phrase in texts.get(key) or []:
                words: list[str] = []
                for raw in str(phrase).split():
                    parts = normalize(raw.rstrip("*")).split()
                    if parts and raw.endswith("*"):
                        parts[-1] += "*"
                    words += parts
                if words:
                    phrases.add(tuple(words))
        return frozenset(phrases)

    def no_comment(self, language: str) -> set[str]:
        return {
            normalize(str(w))
            for code in (language, FALLBACK)
            for w in self.languages.get(code, {}).get("no_comment", [])
        }


@lru_cache(maxsize=4)
def _load(path: Path) -> OutreachTexts:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or FALLBACK not in data:
        raise ValueError(f"{path}: expected texts per language with {FALLBACK!r}")
    return OutreachTexts({str(k): dict(v) for k, v in data.items()})


def normalize(text: str) -> str:
    """Casefold, keycap digits as digits, punctuation as spaces, single spaces."""
    text = text.replace("\ufe0f", "").replace("\u20e3", "").replace("\u2019", "'").casefold()
    text = unicodedata.normalize("NFC", text)
    cleaned = "".join(ch if ch.isalnum() or ch in "'/" else " " for ch in text)
    return " ".join(cleaned.split())


def localized_time(at: datetime, language: str) -> str:
    """``Thursday 14:00`` / ``torsdag 14:00`` / ``Kamis 14:00`` in the customer's language
    (in ``at``'s own time zone: pass it converted to the customer's)."""
    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse(FALLBACK)
    return format_datetime(at, "EEEE HH:mm", tzinfo=at.tzinfo, locale=locale)
