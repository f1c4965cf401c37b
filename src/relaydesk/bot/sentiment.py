"""Per-message sentiment and frustration signals.

A frustrated customer should reach a person before they give up, so this favours cheap,
explainable signals (negative words, profanity, ALL CAPS, '!!!', repeating oneself) over a
model: every signal is named in the result and can be shown to the agent.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from relaydesk.bot.lexicons import NEGATIONS, NEGATIVE, POSITIVE, PROFANITY, STRONG_NEGATIVE
from relaydesk.bot.text import fold, squeeze, tokens

_EXCLAIM_RUN = re.compile(r"[!?]*![!?]*!+[!?]*|\?{3,}")
_LETTERS = re.compile(r"[^\W\d_]")


@dataclass(frozen=True, slots=True)
class Sentiment:
    score: float
    label: str
    frustrated: bool
    signals: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "score": self.score,
            "label": self.label,
            "frustrated": self.frustrated,
            "signals": list(self.signals),
        }


def _all_caps(text: str) -> bool:
    """Shouting: mostly upper-case letters over at least two words or eight letters."""
    letters = _LETTERS.findall(text)
    if len(letters) < 8:
        return False
    upper = sum(1 for c in letters if c.isupper())
    words = [w for w in text.split() if _LETTERS.search(w)]
    return upper / len(letters) >= 0.8 and len(words) >= 2


def _similar(a: str, b: str) -> bool:
    a, b = squeeze(fold(a)).strip(), squeeze(fold(b)).strip()
    if not a or not b:
        return False
    if a == b:
        return True
    return len(a) > 10 and difflib.SequenceMatcher(None, a, b).ratio() >= 0.85


def analyse(text: str, previous: Sequence[str] = ()) -> Sentiment:
    """Score one customer message; `previous` are the customer's earlier messages."""
    toks = tokens(text)
    signals: list[str] = []
    score = 0.0
    neg_idx = {i for i, t in enumerate(toks) if t in NEGATIONS}

    def negated(i: int) -> bool:
        return any(j in neg_idx for j in range(max(0, i - 3), i))

    negatives = len(NEGATIVE.hits(toks))
    score -= 0.35 * negatives
    strong = STRONG_NEGATIVE.hits(toks)
    for _ in strong:
        score -= 0.6
    positives = 0
    for i in POSITIVE.hits(toks):
        if negated(i):
            negatives += 1
            score -= 0.35
        else:
            positives += 1
            score += 0.35
    if negatives or strong:
        signals.append("negative_words")
    profane = bool(PROFANITY.hits(toks))
    if profane:
        signals.append("profanity")
        score -= 0.6
    if _all_caps(text):
        signals.append("all_caps")
        score -= 0.2
    if _EXCLAIM_RUN.search(text):
        signals.append("exclamations")
        score -= 0.15
    repeats = sum(1 for p in previous if _similar(text, p))
    if repeats:
        signals.append("repeated_message")
        score -= 0.3
    score = max(-1.0, min(1.0, score))
    label = "negative" if score <= -0.25 else "positive" if score >= 0.25 else "neutral"
    intensity = sum(s in signals for s in ("all_caps", "exclamations", "repeated_message"))
    frustrated = (
        profane
        or bool(strong)
        or repeats >= 2
        or (label == "negative" and intensity >= 1)
        or intensity >= 2
    )
    return Sentiment(round(score, 3), label, frustrated, signals)
