"""Filling a canned reply's ``{customer.first_name}``-style variables; pure.

A variable is ``{scope.name}`` from a fixed vocabulary, so a typo is an error when the reply
is saved or applied, not a surprise in front of a customer. ``{{`` and ``}}`` are literal
braces. Values are plain text (the console escapes them when it shows them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

VARIABLES: dict[str, str] = {
    "customer.name": "The customer's full name",
    "customer.first_name": "The customer's first name",
    "customer.last_name": "The customer's last name",
    "customer.email": "The customer's email address",
    "customer.phone": "The customer's phone number",
    "agent.name": "Your name",
    "agent.first_name": "Your first name",
    "journey.order_number": "The order number the customer gave (journey facts)",
    "journey.amount": "The amount the customer mentioned (journey facts)",
    "journey.intent": "What the customer wants (the bot's intent)",
}
TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class TemplateError(ValueError):
    """A canned text that cannot be filled: an unknown variable or a stray brace."""


def variables_in(text: str) -> list[str]:
    """The variables ``text`` uses, in order of first use; ``TemplateError`` if one is
    unknown or a brace is unbalanced."""
    found: list[str] = []
    for match in TOKEN.finditer(text):
        piece = match.group(0)
        if piece in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            raise TemplateError(f"a lone {piece!r}: write {piece * 2} for a literal brace")
        name = name.strip()
        if name not in VARIABLES:
            known = ", ".join("{" + v + "}" for v in VARIABLES)
            raise TemplateError(f"unknown variable {{{name}}} (known: {known})")
        if name not in found:
            found.append(name)
    return found


@dataclass(frozen=True)
class Filled:
    text: str
    missing: tuple[str, ...]
    """Variables with no value for this journey: left in the text for the agent to fill."""


def fill(text: str, values: Mapping[str, str | None]) -> Filled:
    """``text`` with every known variable replaced by its value (``TemplateError`` as in
    ``variables_in``); a variable without a value stays as written and is listed."""
    variables_in(text)
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        piece = match.group(0)
        if piece in ("{{", "}}"):
            return piece[0]
        name = match.group(1).strip()
        value = values.get(name)
        if value is None or value == "":
            if name not in missing:
                missing.append(name)
            return "{" + name + "}"
        return str(value)

    return Filled(TOKEN.sub(replace, text), tuple(missing))


def pick_language(texts: Mapping[str, str], wanted: str | None) -> str | None:
    """The variant for ``wanted`` (``sv`` also for ``sv-SE``), else English, else the first."""
    if not texts:
        return None
    base = (wanted or "").split("-")[0].split("_")[0].lower()
    if base in texts:
        return base
    if "en" in texts:
        return "en"
    return next(iter(sorted(texts)))
