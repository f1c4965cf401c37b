"""Turning admin forms into the workspace file's Pydantic specs, and their errors into
messages next to the fields they are about."""

from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import ValidationError

Errors = dict[str, str]
"""Form field name → what is wrong with it ("" for the form as a whole)."""


def errors_of(exc: ValidationError, fields: dict[str, str] | None = None) -> Errors:
    """The first message per field; ``fields`` maps a spec's top-level name to a form field
    (e.g. ``capacity`` → ``capacity``; nested parts are named in the message)."""
    found: Errors = {}
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        top = loc[0] if loc else ""
        field = (fields or {}).get(top, top)
        message = error["msg"].removeprefix("Value error, ")
        if len(loc) > 1:
            message = f"{'.'.join(loc[1:])}: {message}"
        found.setdefault(field, message)
    return found


def words(raw: str) -> list[str]:
    """'en, sv  de' → ['en', 'sv', 'de']."""
    return [part for part in re.split(r"[,\s]+", raw.strip()) if part]


def levels(raw: str) -> dict[str, Any]:
    """'billing=2, returns=1, shipping' → {'billing': 2, 'returns': 1, 'shipping': 1}; a level
    that is not a whole number is kept as typed, for the spec to refuse by name."""
    found: dict[str, Any] = {}
    for part in re.split(r"[,\n]+", raw):
        part = part.strip()
        if not part:
            continue
        name, sep, level = part.partition("=")
        text = level.strip()
        found[name.strip()] = (int(text) if text.lstrip("-").isdigit() else text) if sep else 1
    return found


def lines(raw: str) -> list[str]:
    return [line.strip() for line in raw.splitlines() if line.strip()]


class YamlError(ValueError):
    pass


def mapping_from_yaml(raw: str, what: str) -> dict[str, Any]:
    """A YAML mapping typed into a textarea; an empty box is an empty mapping."""
    if not raw.strip():
        return {}
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise YamlError(f"{what} is not valid YAML{where}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise YamlError(f"{what} must be a mapping of keys to values")
    return value


def to_yaml(value: dict[str, Any]) -> str:
    return "" if not value else yaml.safe_dump(value, sort_keys=True, allow_unicode=True)
