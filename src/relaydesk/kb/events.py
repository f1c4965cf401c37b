"""Events of the knowledge base (listeners may rebuild indexes or notify editors)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from relaydesk.bus import DomainEvent


class _ArticleEvent(DomainEvent):
    article_id: uuid.UUID
    slug: str


class ArticleCreated(_ArticleEvent):
    name: ClassVar[str] = "kb.article_created"
    status: str
    languages: list[str]


class ArticlePublished(_ArticleEvent):
    """The article became visible to customers and the bot (created published, or published)."""

    name: ClassVar[str] = "kb.article_published"
    languages: list[str]


class ArticleUpdated(_ArticleEvent):
    name: ClassVar[str] = "kb.article_updated"
    fields: list[str]
    """Changed fields, with ``variants.<language>`` for a changed, added or removed variant."""


class ArticleDeleted(_ArticleEvent):
    name: ClassVar[str] = "kb.article_deleted"
