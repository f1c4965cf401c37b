"""The ``canned_replies:`` section of the workspace file, also what the admin page saves."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relaydesk.canned.render import TemplateError, variables_in

NAME = r"^[a-z0-9][a-z0-9_-]{0,99}$"
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
MAX_TEXT = 8_000


class CannedReplySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=NAME)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    texts: dict[Language, Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]]
    """By language; at least one. Variables such as {customer.first_name}."""

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a title is needed")
        return value.strip()

    @field_validator("texts")
    @classmethod
    def _texts(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("give at least one text (by language, e.g. en: ...)")
        for language, text in value.items():
            if not text.strip():
                raise ValueError(f"{language}: the text is empty")
            try:
                variables_in(text)
            except TemplateError as exc:
                raise ValueError(f"{language}: {exc}") from None
        return value


def unique_names(specs: list[CannedReplySpec]) -> str | None:
    """The first problem with the names of a list of canned replies, or None."""
    seen: dict[str, int] = {}
    for index, spec in enumerate(specs):
        if spec.name in seen:
            return f"{index}.name: {spec.name!r} appears twice (first at [{seen[spec.name]}])"
        seen[spec.name] = index
    return None
