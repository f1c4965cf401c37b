"""Reading a survey answer from a normal inbound message (pure).

A button's payload (``survey:<question>:<score>``), a number ("6", "6/7", "6️⃣ quick and
kind"), or a phrase in the customer's language ("very easy", "sangat mudah", "mycket lätt").
What follows the score is kept as a comment. Anything else is not an answer, so the message
goes to the bot or routing as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from relaydesk.outreach.texts import OutreachTexts, normalize

RANGES = {
    "ces": (1, 7),
    "csat": (1, 5),
    "nps": (0, 10),
    "ves_confidence": (1, 7),
    "ves_understanding": (1, 7),
}
METRIC_OF = {
    "ces": "ces",
    "csat": "csat",
    "nps": "nps",
    "ves_confidence": "ves",
    "ves_understanding": "ves",
}
QUESTIONS_OF = {
    "ces": ["ces"],
    "csat": ["csat"],
    "nps": ["nps"],
    "ves": ["ves_confidence", "ves_understanding"],
}
COMMENT = "comment"
BUTTON_PREFIX = "survey:"
_NUMBER = re.compile(r"^(\d{1,2})(?:\s*(?:/|of|av|dari|von|de|sur)\s*\d{1,2})?(?:\s+(.*))?$")


@dataclass(frozen=True)
class Answer:
    question: str
    score: int | None
    """None for a comment."""
    comment: str | None


def button_id(question: str, score: int) -> str:
    return f"{BUTTON_PREFIX}{question}:{score}"


def read_answer(
    question: str,
    text: str,
    payload: str | None,
    language: str,
    texts: OutreachTexts,
) -> Answer | None:
    """The answer to ``question`` in this message, or None when it is not one."""
    if question == COMMENT:
        stripped = text.strip()
        if not stripped:
            return None
        if normalize(stripped) in texts.no_comment(language):
            return Answer(COMMENT, None, None)
        return Answer(COMMENT, None, stripped[:4000])
    low, high = RANGES[question]
    if payload and payload.startswith(BUTTON_PREFIX):
        asked, _, value = payload[len(BUTTON_PREFIX) :].rpartition(":")
        if asked == question and value.isdigit() and low <= int(value) <= high:
            return Answer(question, int(value), None)
        return None
    cleaned = normalize(text)
    match = _NUMBER.match(cleaned)
    if match:
        score = int(match.group(1))
        if not low <= score <= high:
            return None
        return Answer(question, score, _rest(text, match.group(2)))
    words = texts.words(question, language)
    for phrase in sorted(words, key=len, reverse=True):
        if cleaned == phrase or cleaned.startswith(phrase + " "):
            rest = cleaned[len(phrase) :].strip()
            return Answer(question, words[phrase], _rest(text, rest or None))
    return None


def _rest(original: str, normalized_rest: str | None) -> str | None:
    """The comment after the score, in the customer's own spelling where it can be found."""
    if not normalized_rest:
        return None
    first = normalized_rest.split()[0]
    index = original.casefold().find(first)
    return original[index:].strip()[:4000] if index >= 0 else normalized_rest
