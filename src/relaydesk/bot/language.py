"""Language identification for short customer messages.

Lingua, restricted to the languages the product supports, does well on a sentence but is
unsure on "hej" or "ok thanks"; a hint (the language the customer picked, or the one the
journey is already in) decides whenever the text itself is not clearly another language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from relaydesk.bot.text import tokens

SUPPORTED: tuple[str, ...] = ("en", "id", "sv", "pl", "de", "es", "fr", "nl", "pt", "it")
_BY_CODE = {
    "en": Language.ENGLISH,
    "id": Language.INDONESIAN,
    "sv": Language.SWEDISH,
    "pl": Language.POLISH,
    "de": Language.GERMAN,
    "es": Language.SPANISH,
    "fr": Language.FRENCH,
    "nl": Language.DUTCH,
    "pt": Language.PORTUGUESE,
    "it": Language.ITALIAN,
}
# A hinted language keeps the message unless another language is this many times likelier.
HINT_WEIGHT = 6.0


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    language: str
    confidence: float
    source: str  # "text", "hint" or "default"


@lru_cache(maxsize=4)
def _detector(codes: tuple[str, ...]) -> LanguageDetector:
    languages = [_BY_CODE[c] for c in codes]
    return (
        LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()
    )


def warm_up(languages: Iterable[str] = SUPPORTED) -> None:
    """Load the language models now (about 3 s) rather than on the first message."""
    _detector(tuple(sorted(set(languages) & set(SUPPORTED))))


def confidences(text: str, languages: Iterable[str] = SUPPORTED) -> dict[str, float]:
    """Lingua's probability for each supported language (they sum to 1)."""
    codes = tuple(sorted(set(languages) & set(SUPPORTED)))
    if len(codes) < 2:
        return dict.fromkeys(codes, 1.0)
    values = _detector(codes).compute_language_confidence_values(text)
    out = dict.fromkeys(codes, 0.0)
    for v in values:
        code = v.language.iso_code_639_1.name.lower()
        if code in out:
            out[code] = v.value
    return out


def detect_language(
    text: str,
    hint: str | None = None,
    languages: Iterable[str] = SUPPORTED,
    default: str = "en",
    prior: Mapping[str, float] | None = None,
) -> LanguageGuess:
    """Best language for `text`; `hint` wins unless the text clearly says otherwise.

    `prior` lets a caller weigh in with its own evidence (the NLU passes its char-n-gram
    language model trained on the workspace's own examples).
    """
    allowed = tuple(languages)
    hint = hint.lower().split("-")[0] if hint else None
    if hint is not None and hint not in allowed:
        hint = None
    toks = tokens(text)
    if not toks:
        return LanguageGuess(hint or default, 0.0, "hint" if hint else "default")
    scores = confidences(text, allowed)
    if prior:
        scores = {c: s * 0.5 + prior.get(c, 0.0) * 0.5 for c, s in scores.items()}
    if hint is not None:
        scores[hint] = scores.get(hint, 0.0) * HINT_WEIGHT
    total = sum(scores.values())
    if total <= 0:
        return LanguageGuess(hint or default, 0.0, "hint" if hint else "default")
    best = max(scores, key=lambda c: scores[c])
    conf = scores[best] / total
    if hint is not None and (best == hint or len(toks) < 2):
        return LanguageGuess(hint, scores[hint] / total, "hint")
    return LanguageGuess(best, round(conf, 4), "text")
