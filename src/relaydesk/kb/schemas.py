"""Knowledge-base shapes: API input and output, and the workspace file's section."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

SLUG = r"^[a-z0-9][a-z0-9-]{0,99}$"
"""Lower-case words joined by hyphens; never starting with '-' (``/help/-/`` holds assets)."""
LANGUAGE = r"^[a-z]{2,3}$"
MAX_BODY = 50_000

Slug = Annotated[str, StringConstraints(strip_whitespace=True, pattern=SLUG)]
Language = Annotated[str, StringConstraints(pattern=LANGUAGE)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_BODY)]
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Status = Literal["draft", "published"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _clean_tags(value: list[str]) -> list[str]:
    """Tags are compared case-insensitively, so they are stored lower-case, once each."""
    out: list[str] = []
    for raw in value:
        tag = " ".join(raw.split()).lower()
        if not tag or len(tag) > 50:
            raise ValueError("each tag is 1 to 50 characters")
        if tag not in out:
            out.append(tag)
    if len(out) > 20:
        raise ValueError("at most 20 tags")
    return out


class VariantIn(_Strict):
    title: Title
    body: Body = Field(description="Markdown (raw HTML is shown as text, never run)")
    questions: Annotated[list[Question], Field(max_length=50)] = Field(
        default_factory=list, description="Questions this article answers, as customers ask"
    )


class VariantPatch(_Strict):
    title: Title | None = None
    body: Body | None = None
    questions: Annotated[list[Question], Field(max_length=50)] | None = None


class ArticleIn(_Strict):
    """A whole article: what POST creates, PUT replaces and the workspace file declares."""

    slug: Slug
    tags: list[str] = Field(default_factory=list)
    status: Status = "published"
    variants: Annotated[dict[Language, VariantIn], Field(min_length=1, max_length=30)] = Field(
        description="One entry per language code (en, sv, ...)"
    )

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return _clean_tags(value)


class ArticlePatch(_Strict):
    """Only the fields given change; a variant set to null is removed."""

    slug: Slug | None = None
    tags: list[str] | None = None
    status: Status | None = None
    variants: dict[Language, VariantPatch | None] | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _clean_tags(value)


class VariantOut(BaseModel):
    title: str
    body: str
    questions: list[str]
    updated_at: datetime


class ArticleOut(BaseModel):
    id: uuid.UUID
    slug: str
    tags: list[str]
    status: Status
    revision: int
    created_at: datetime
    updated_at: datetime
    url: str = Field(description="The article in the public help centre")
    variants: dict[str, VariantOut]


class ArticleList(BaseModel):
    items: list[ArticleOut]
    total: int
    next_offset: int | None


class SearchHit(BaseModel):
    slug: str
    language: str
    title: str
    snippet: str
    score: float
    url: str | None


class SearchResult(BaseModel):
    query: str
    language: str | None
    items: list[SearchHit]


class KnowledgeBaseSpec(_Strict):
    """The ``knowledge_base:`` section of the workspace file."""

    articles: list[ArticleIn] = Field(default_factory=list)
    prune: bool = False
    """Delete articles the file does not declare (off by default, like the other sections)."""
    starter_articles: bool = True
    """Seed the default pack's starter articles once, into an empty knowledge base, when the
    file declares no articles."""
