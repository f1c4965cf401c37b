"""Reading a survey answer from a normal inbound message (pure).

An answer is answer-shaped: a button's payload (``survey:<question>:<score>``), a score
("6", "6/7", "6 of 7", "6️⃣") or a phrase of the language packs ("very easy", "sangat
mudah", "mycket lätt"), alone or followed by a comment. A message that also asks for
something (a question, or a marker of the packs' ``request_markers``: "still missing",
"wo", "remboursement"…) must reach the bot or routing like any other message, so:

- its score counts only when clearly set apart ("2 - why is my parcel still missing?":
  the score is kept and the message passed on); run into the sentence ("2 parcels are still
  missing") the number is a quantity, not a score, and nothing is read;
- at the comment question it is not taken as the comment (it is a request, not feedback).

Anything else that is not an answer goes to the bot or routing as usual.
"""

from __future__ import annotations

import re
import unicodedata
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
MAX_COMMENT = 4000
_WORD = re.compile("[^\\W_]+(?:['\u2019][^\\W_]+)*")
"""A word as the customer wrote it (letters or digits, with inner apostrophes)."""
_QUESTION_MARKS = ("?", "\u00bf", "\uff1f")  # ? ¿ and the full-width one


@dataclass(frozen=True)
class Answer:
    question: str
    score: int | None
    """None for a comment."""
    comment: str | None
    request: bool = False
    """The message also asks for something: it is passed on to the bot or routing too."""


@dataclass(frozen=True)
class _Word:
    text: str
    """Normalized (casefolded, keycaps and curly apostrophes straightened)."""
    start: int
    end: int


def button_id(question: str, score: int) -> str:
    return f"{BUTTON_PREFIX}{question}:{score}"


def read_answer(
    question: str,
    text: str,
    payload: str | None,
    language: str,
    texts: OutreachTexts,
) -> Answer | None:
    """The answer to ``question`` in this message, or None when it is not one (so the
    message goes to the bot or routing); ``Answer.request``: it goes there as well."""
    text = unicodedata.normalize("NFC", text)
    if question == COMMENT:
        stripped = text.strip()
        if not stripped:
            return None
        if normalize(stripped) in texts.no_comment(language):
            return Answer(COMMENT, None, None)
        if is_request(stripped, texts):
            return None
        return Answer(COMMENT, None, stripped[:MAX_COMMENT])
    low, high = RANGES[question]
    if payload and payload.startswith(BUTTON_PREFIX):
        asked, _, value = payload[len(BUTTON_PREFIX) :].rpartition(":")
        if asked == question and value.isdigit() and low <= int(value) <= high:
            return Answer(question, int(value), None)
        return None
    words = _words(text)
    read = _score(words, text, texts) or _phrase(words, texts.words(question, language))
    if read is None:
        return None
    score, used = read
    if not low <= score <= high:
        return None
    rest = words[used:]
    if not rest:
        return Answer(question, score, None)
    gap = text[words[used - 1].end : rest[0].start]
    set_apart = bool(gap.strip()) or "\n" in gap
    if rest[0].text[0].isdigit() and not any(ch.isspace() for ch in gap):
        return None  # "2.5", "2:30", "2-3": a number, not a score
    comment = text[rest[0].start :].strip()
    if is_request(comment, texts):
        # Run into the sentence the number is a quantity ("2 parcels are still missing").
        return Answer(question, score, None, request=True) if set_apart else None
    return Answer(question, score, comment[:MAX_COMMENT])


def is_request(text: str, texts: OutreachTexts) -> bool:
    """A question, or a request marker of any language's pack ("help", "fehlt", "où")."""
    words = [word.text for word in _words(text)]
    if not words:
        return False
    if any(mark in text for mark in _QUESTION_MARKS):
        return True
    return any(_contains(words, marker) for marker in texts.request_markers)


def _words(text: str) -> list[_Word]:
    return [
        _Word(normalize(match.group()), match.start(), match.end())
        for match in _WORD.finditer(text)
    ]


def _score(words: list[_Word], text: str, texts: OutreachTexts) -> tuple[int, int] | None:
    """A leading score ("6", "6/7", "6 of 7"), and how many words it took."""
    if not words or not words[0].text.isdigit() or len(words[0].text) > 2:
        return None
    if any(unicodedata.category(ch) == "Sc" for ch in text[: words[0].start]):
        return None  # "€2", "$5": an amount
    score = int(words[0].text)
    if len(words) >= 2 and words[1].text.isdigit() and _between(text, words, 0, 1) == "/":
        return score, 2
    for phrase in texts.out_of:
        end = 1 + len(phrase)
        if (
            len(words) > end
            and tuple(w.text for w in words[1:end]) == phrase
            and words[end].text.isdigit()
            and not any(_between(text, words, i, i + 1) for i in range(end))
        ):
            return score, end + 1
    return score, 1


def _between(text: str, words: list[_Word], first: int, second: int) -> str:
    """What separates two words, spaces aside."""
    return text[words[first].end : words[second].start].strip()


def _phrase(words: list[_Word], phrases: dict[str, int]) -> tuple[int, int] | None:
    """A leading answer phrase ("very easy"), longest first, and how many words it took."""
    said = tuple(w.text for w in words)
    for phrase in sorted(phrases, key=len, reverse=True):
        wanted = tuple(phrase.split())
        if wanted and said[: len(wanted)] == wanted:
            return phrases[phrase], len(wanted)
    return None


def _contains(words: list[str], marker: tuple[str, ...]) -> bool:
    size = len(marker)
    return any(
        all(_matches(word, want) for word, want in zip(words[i : i + size], marker, strict=True))
        for i in range(len(words) - size + 1)
    )


def _matches(word: str, want: str) -> bool:
    return word.startswith(want[:-1]) if want.endswith("*") else word == want
