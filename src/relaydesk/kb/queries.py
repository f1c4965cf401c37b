"""Reading the knowledge base, and the cached search index the bot and help centre share.

``load_knowledge_base(hub)`` is the one way the hub gets a ``bot.kb.KnowledgeBase``: the
published articles, bodies as plain text (chat channels show no Markdown), each match
carrying its help-centre link. The index is rebuilt only when the articles change: a cheap
fingerprint query (count, sum of revisions, last update) runs at most once per
``RECHECK_SECONDS`` per hub, so another instance's edit shows within that time and this
instance's own API edits show at once (``invalidate``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.bot.kb import KnowledgeBase, article_url
from relaydesk.bot.pack import Article, ArticleVariant
from relaydesk.hub import Hub
from relaydesk.kb.models import KbArticle
from relaydesk.kb.render import to_text
from relaydesk.kb.schemas import ArticleOut, VariantOut

RECHECK_SECONDS = 1.0


def base_url(hub: Hub) -> str:
    """Where the help centre lives: the public URL, or "" (site-relative links) without one."""
    return hub.settings.public_url or ""


async def article_by_ref(session: AsyncSession, ref: str) -> KbArticle | None:
    """An article by slug, else by id (a slug wins if one looks like an id)."""
    row = await session.scalar(select(KbArticle).where(KbArticle.slug == ref))
    if row is not None:
        return row
    try:
        article_id = uuid.UUID(ref)
    except ValueError:
        return None
    return await session.get(KbArticle, article_id)


def _matches(row: KbArticle, language: str | None, tag: str | None, q: str | None) -> bool:
    if language is not None and all(v.language != language for v in row.variants):
        return False
    if tag is not None and tag.strip().lower() not in row.tags:
        return False
    if q:
        needle = q.casefold()
        texts = [row.slug, *row.tags]
        for v in row.variants:
            if language is None or v.language == language:
                texts += [v.title, v.body, *v.questions]
        return any(needle in text.casefold() for text in texts)
    return True


async def list_articles(
    session: AsyncSession,
    *,
    language: str | None = None,
    tag: str | None = None,
    q: str | None = None,
    status: str | None = None,
) -> list[KbArticle]:
    """Articles by slug; filtered in Python, which is fine for a help centre's size."""
    query = select(KbArticle).order_by(KbArticle.slug)
    if status is not None:
        query = query.where(KbArticle.status == status)
    rows = (await session.scalars(query)).all()
    return [row for row in rows if _matches(row, language, tag, q)]


def article_out(row: KbArticle, base: str) -> ArticleOut:
    languages = [v.language for v in row.variants]
    first = "en" if "en" in languages else (languages[0] if languages else "en")
    return ArticleOut(
        id=row.id,
        slug=row.slug,
        tags=list(row.tags),
        status=row.status,
        revision=row.revision,
        created_at=row.created_at,
        updated_at=row.updated_at,
        url=article_url(base, row.slug, first),
        variants={
            v.language: VariantOut(
                title=v.title, body=v.body, questions=list(v.questions), updated_at=v.updated_at
            )
            for v in row.variants
        },
    )


async def published_articles(session: AsyncSession) -> list[KbArticle]:
    query = select(KbArticle).where(KbArticle.status == "published").order_by(KbArticle.slug)
    return list((await session.scalars(query)).all())


def as_pack_articles(rows: Sequence[KbArticle]) -> list[Article]:
    """Rows as the bot's plain data, bodies without Markdown."""
    return [
        Article(
            slug=row.slug,
            tags=tuple(row.tags),
            variants={
                v.language: ArticleVariant(v.title, to_text(v.body), tuple(v.questions))
                for v in row.variants
            },
        )
        for row in rows
        if row.variants
    ]


async def fingerprint(session: AsyncSession) -> tuple[Any, ...]:
    """Changes whenever an article is created, edited or deleted."""
    row = (
        await session.execute(
            select(
                func.count(KbArticle.id),
                func.coalesce(func.sum(KbArticle.revision), 0),
                func.max(KbArticle.updated_at),
            )
        )
    ).one()
    return (int(row[0]), int(row[1]), str(row[2]))


@dataclass
class _Cached:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    fingerprint: tuple[Any, ...] | None = None
    checked_at: float = float("-inf")
    kb: KnowledgeBase | None = None


_caches: dict[int, tuple[weakref.ref[Hub], _Cached]] = {}


def _cache_for(hub: Hub) -> _Cached:
    entry = _caches.get(id(hub))
    if entry is None or entry[0]() is not hub:
        key = id(hub)
        entry = (weakref.ref(hub, lambda _ref: _caches.pop(key, None)), _Cached())
        _caches[key] = entry
    return entry[1]


def invalidate(hub: Hub) -> None:
    """Check the articles again on the next load (after a write through this process)."""
    _cache_for(hub).checked_at = float("-inf")


async def load_knowledge_base(hub: Hub) -> KnowledgeBase:
    """The published articles as a searchable ``KnowledgeBase``, cached per hub.

    Matches carry ``url`` = ``<public_url>/help/<slug>?lang=<language>``. Safe to call on
    every bot turn: usually no query at all, at most one small one per second.
    """
    cached = _cache_for(hub)
    if cached.kb is not None and time.monotonic() - cached.checked_at < RECHECK_SECONDS:
        return cached.kb
    async with cached.lock:
        if cached.kb is not None and time.monotonic() - cached.checked_at < RECHECK_SECONDS:
            return cached.kb
        async with hub.db.read() as session:
            current = await fingerprint(session)
            if cached.kb is None or current != cached.fingerprint:
                articles = as_pack_articles(await published_articles(session))
            else:
                articles = None
        if articles is not None:
            cached.kb = await asyncio.to_thread(KnowledgeBase, articles, base_url=base_url(hub))
            cached.fingerprint = current
        cached.checked_at = time.monotonic()
        assert cached.kb is not None
        return cached.kb
