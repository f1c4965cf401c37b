"""Text normalisation and redaction shared by every NLU component.

Customers type without diacritics, with elongated letters and with personal data in the
message; folding and redaction happen in one place so training and parsing see the same text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters that NFKD does not decompose into base + combining mark.
_EXTRA_FOLD = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "đ": "d"}
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_ELISION = re.compile(r"\b(l|d|j|m|t|s|n|c|qu|dell|all|dall|nell|sull|un|quest)'(?=\w)")
_RUNS = re.compile(r"(\w)\1{2,}")
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# 13-19 digits, optionally grouped by spaces or dashes (card numbers).
CARD_RE = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# Phone-like: optional +, 8+ digits possibly separated by spaces, dots, dashes, parentheses.
PHONE_RE = re.compile(r"(?<![\w#-])\+?\(?\d[\d ().-]{6,}\d(?![\w-])")

# The NLU reads a bounded text: a customer's request is in its first lines, and the patterns
# above backtrack over a long run of word characters (a 32 KB "word" took seconds, holding
# the event loop). Longer texts are still stored whole; only understanding is bounded.
MAX_UNDERSTOOD_CHARS = 1_000
# An explicit ask for a person is honoured wherever it is in a long message.
MAX_HUMAN_REQUEST_CHARS = 8_000
MAX_TOKEN_CHARS = 128
_LONG_TOKEN = re.compile(rf"(\S{{{MAX_TOKEN_CHARS}}})\S+")


def for_understanding(text: str, limit: int = MAX_UNDERSTOOD_CHARS) -> str:
    """The part of a message the NLU reads: its start, with no token over 128 characters."""
    # Cut first (a token can shrink at most to MAX_TOKEN_CHARS), so the work is bounded too.
    return _LONG_TOKEN.sub(r"\1", text[: limit * (MAX_TOKEN_CHARS + 1)])[:limit]


def fold(text: str) -> str:
    """Lower-case and strip diacritics, so 'Człowiek' and 'czlowiek' look the same."""
    text = text.translate(_EXTRA_FOLD).lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def squeeze(text: str) -> str:
    """Collapse letters repeated three or more times ('humaaan' -> 'human')."""
    return _RUNS.sub(r"\1", text)


@lru_cache(maxsize=4096)
def tokens(text: str) -> tuple[str, ...]:
    """Folded, squeezed word tokens; French elisions split ('l'agent' -> 'l', 'agent')."""
    norm = squeeze(fold(text.translate(_APOSTROPHES)))
    norm = _ELISION.sub(r"\1 ", norm)
    return tuple(t.replace("'", "") for t in _TOKEN.findall(norm))


def luhn_ok(digits: str) -> bool:
    """Luhn checksum: tells a card number from an order or phone number."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _redact_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "<card>" if 13 <= len(digits) <= 19 and luhn_ok(digits) else match.group(0)


def _redact_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "<phone>" if 8 <= len(digits) <= 15 else match.group(0)


def redact(text: str) -> str:
    """Replace card numbers, emails and phone numbers with placeholders.

    Used on training text and on anything that may be logged: personal data must not end up
    in a model or a log line.
    """
    text = EMAIL_RE.sub("<email>", text)
    text = CARD_RE.sub(_redact_card, text)
    return PHONE_RE.sub(_redact_phone, text)


def normalise_for_model(text: str) -> str:
    """What the intent classifier sees: redacted, folded, squeezed, single-spaced."""
    return " ".join(squeeze(fold(redact(text))).split())
