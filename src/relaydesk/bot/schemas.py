"""The workspace file's ``bot:`` section: the workspace's own intents, and the API's shapes.

A workspace that declares no ``bot:`` section uses the default pack. With ``pack: default``
(the default) the declared intents *extend* the pack: a new id adds an intent, an id the pack
has overrides the fields it sets and adds its examples to the pack's. With ``pack: none`` the
declared intents *replace* the pack (its off-topic examples are kept, see docs/bot.md).

Validation happens here, so a workspace file names the line of the problem; the check that
each ``article`` exists needs the database and is done when the section is applied.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from relaydesk.bot.language import SUPPORTED
from relaydesk.bot.pack import SIGNALS, Pack, load_pack

ENTITY_TYPES = ("order_number", "email", "phone", "amount")
MIN_EXAMPLES = 5
"""Examples a new intent needs (over all its languages) to be learnt at all."""
INTENT_ID = r"^[a-z][a-z0-9_]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntentDecl(_Strict):
    """One intent. Unset fields keep the pack's value (or the default for a new intent)."""

    bot_may_resolve: bool | None = None
    article: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    required_facts: list[str] | None = None
    signals: list[str] | None = None
    examples: dict[str, list[str]] = Field(default_factory=dict)
    """Training examples per language: ``{en: [...], sv: [...]}``."""


class FactDecl(_Strict):
    entity: Literal["order_number", "email", "phone", "amount"]
    prompt: dict[str, Annotated[str, Field(min_length=1)]] = Field(default_factory=dict)


class BotSpec(_Strict):
    """The ``bot:`` section of the workspace file (and the body of ``PUT /api/v1/bot/intents``)."""

    pack: Literal["default", "none"] = "default"
    """``default``: extend the default pack; ``none``: only the intents declared here."""
    out_of_scope_threshold: Annotated[float, Field(ge=0.0, lt=1.0)] | None = None
    facts: dict[str, FactDecl] = Field(default_factory=dict)
    intents: dict[str, IntentDecl] = Field(default_factory=dict)
    out_of_scope: dict[str, list[str]] = Field(default_factory=dict)
    """Off-topic examples per language, added to the pack's."""

    @model_validator(mode="after")
    def _consistent(self) -> BotSpec:
        problems = list(_problems(self))
        if problems:
            raise ValueError(problems[0])
        return self


@cache
def default_pack() -> Pack:
    return load_pack()


def _languages(where: str, per_language: dict[str, Any]) -> list[str]:
    return [
        f"{where}.{lang}: unknown language {lang!r} (supported: {', '.join(SUPPORTED)})"
        for lang in per_language
        if lang not in SUPPORTED
    ]


def _texts(where: str, per_language: dict[str, list[str]]) -> list[str]:
    out = []
    for lang, texts in per_language.items():
        for index, text in enumerate(texts):
            if not text.strip():
                out.append(f"{where}.{lang}: example {index + 1} is empty")
    return out


def _problems(spec: BotSpec) -> list[str]:
    """Every problem, each starting with its dotted location in the section."""
    import re

    base = default_pack() if spec.pack == "default" else None
    facts = set(spec.facts) | (set(base.facts) if base else set())
    out: list[str] = []
    for fid, fact in spec.facts.items():
        out += _languages(f"facts.{fid}.prompt", fact.prompt)
    for iid, intent in spec.intents.items():
        where = f"intents.{iid}"
        if not re.match(INTENT_ID, iid):
            out.append(f"{where}: an intent id is lower-case letters, digits and _")
            continue
        out += _languages(f"{where}.examples", intent.examples)
        out += _texts(f"{where}.examples", intent.examples)
        unknown = [f for f in intent.required_facts or () if f not in facts]
        if unknown:
            out.append(
                f"{where}.required_facts: unknown fact {unknown[0]!r} "
                f"(declare it under facts:; known: {', '.join(sorted(facts)) or 'none'})"
            )
        bad = sorted(set(intent.signals or ()) - SIGNALS)
        if bad:
            out.append(
                f"{where}.signals: unknown signal {bad[0]!r} (use {', '.join(sorted(SIGNALS))})"
            )
        count = sum(len(texts) for texts in intent.examples.values())
        if (base is None or iid not in base.intents) and count < MIN_EXAMPLES:
            out.append(
                f"{where}.examples: a new intent needs at least {MIN_EXAMPLES} examples "
                f"(has {count})"
            )
    out += _languages("out_of_scope", spec.out_of_scope)
    out += _texts("out_of_scope", spec.out_of_scope)
    if base is None and len(spec.intents) < 2:
        out.append("intents: with pack: none, declare at least two intents")
    return out


def stored_form(spec: BotSpec) -> dict[str, Any]:
    """What is kept in the database: exactly what was declared (unset fields left out)."""
    data: dict[str, Any] = spec.model_dump(exclude_unset=True)
    return data


class BotIntentsOut(BaseModel):
    """``GET /api/v1/bot/intents``: the stored section (or none) and its version."""

    version: str | None
    bot: dict[str, Any] | None
    intents: list[str]
    """The intents the workspace's model is trained on (pack and workspace together)."""
