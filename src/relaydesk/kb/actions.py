"""Writing the knowledge base: create, replace, patch and delete articles, with their events.

Every write bumps the article's ``revision`` and ``updated_at``, which is how the cached
index the bot and the help centre search (``queries.load_knowledge_base``) notices it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bus import publish
from relaydesk.db import new_id
from relaydesk.kb.events import ArticleCreated, ArticleDeleted, ArticlePublished, ArticleUpdated
from relaydesk.kb.models import KbArticle, KbVariant
from relaydesk.kb.schemas import ArticleIn, ArticlePatch
from relaydesk.workspace.file import LoadedWorkspace

if TYPE_CHECKING:
    from relaydesk.workspace.actions import Change


class ArticleNotFound(Exception):
    def __init__(self, ref: object) -> None:
        super().__init__(f"no article {ref}")
        self.ref = ref


class SlugTaken(Exception):
    def __init__(self, slug: str) -> None:
        super().__init__(f"an article with slug {slug!r} already exists")
        self.slug = slug


class InvalidArticle(Exception):
    """A change that is well-formed but leaves the article invalid; names the field."""

    def __init__(self, field: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


async def _slug_owner(session: AsyncSession, slug: str) -> uuid.UUID | None:
    found: uuid.UUID | None = await session.scalar(
        select(KbArticle.id).where(KbArticle.slug == slug)
    )
    return found


async def _load(session: AsyncSession, article_id: uuid.UUID) -> KbArticle:
    row = await session.scalar(
        select(KbArticle).where(KbArticle.id == article_id).with_for_update()
    )
    if row is None:
        raise ArticleNotFound(article_id)
    return row


def sync_article(row: KbArticle, data: ArticleIn, now: datetime) -> list[str]:
    """Make ``row`` say what ``data`` says; return the changed fields (no events)."""
    changed = []
    for key in ("slug", "tags", "status"):
        value = getattr(data, key)
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed.append(key)
    current = {v.language: v for v in row.variants}
    for language, variant in data.variants.items():
        existing = current.pop(language, None)
        values = {"title": variant.title, "body": variant.body, "questions": variant.questions}
        if existing is None:
            row.variants.append(KbVariant(id=new_id(), language=language, updated_at=now, **values))
            changed.append(f"variants.{language}")
        elif any(getattr(existing, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(existing, key, value)
            existing.updated_at = now
            changed.append(f"variants.{language}")
    for language, gone in current.items():
        row.variants.remove(gone)
        changed.append(f"variants.{language}")
    if changed:
        row.updated_at = now
    return changed


def new_article(data: ArticleIn, now: datetime) -> KbArticle:
    row = KbArticle(
        id=new_id(),
        slug=data.slug,
        tags=list(data.tags),
        status=data.status,
        revision=1,
        created_at=now,
        updated_at=now,
        variants=[],
    )
    sync_article(row, data, now)
    return row


async def create_article(session: AsyncSession, data: ArticleIn, *, actor: str) -> uuid.UUID:
    if await _slug_owner(session, data.slug) is not None:
        raise SlugTaken(data.slug)
    row = new_article(data, clock.now())
    session.add(row)
    await session.flush()
    languages = sorted(data.variants)
    await publish(
        session,
        ArticleCreated(article_id=row.id, slug=row.slug, status=row.status, languages=languages),
        actor=actor,
    )
    if row.status == "published":
        await publish(
            session,
            ArticlePublished(article_id=row.id, slug=row.slug, languages=languages),
            actor=actor,
        )
    return row.id


async def replace_article(
    session: AsyncSession, article_id: uuid.UUID, data: ArticleIn, *, actor: str
) -> list[str]:
    """PUT: the article becomes exactly ``data``; returns the changed fields."""
    row = await _load(session, article_id)
    if data.slug != row.slug:
        owner = await _slug_owner(session, data.slug)
        if owner is not None and owner != row.id:
            raise SlugTaken(data.slug)
    was_published = row.status == "published"
    now = clock.now()
    changed = sync_article(row, data, now)
    if changed:
        row.revision += 1
        await session.flush()
        await publish(
            session, ArticleUpdated(article_id=row.id, slug=row.slug, fields=changed), actor=actor
        )
        if row.status == "published" and not was_published:
            await publish(
                session,
                ArticlePublished(article_id=row.id, slug=row.slug, languages=sorted(data.variants)),
                actor=actor,
            )
    return changed


def merged(row: KbArticle, patch: ArticlePatch) -> ArticleIn:
    """The article ``row`` with ``patch`` applied, validated as a whole article."""
    variants: dict[str, dict[str, Any]] = {
        v.language: {"title": v.title, "body": v.body, "questions": list(v.questions)}
        for v in row.variants
    }
    for language, change in (patch.variants or {}).items():
        if change is None:
            variants.pop(language, None)
            continue
        given = change.model_dump(exclude_unset=True)
        if None in given.values():
            key = next(k for k, v in given.items() if v is None)
            raise InvalidArticle(("variants", language, key), "cannot be null")
        variants[language] = {**variants.get(language, {}), **given}
    if not variants:
        raise InvalidArticle(("variants",), "an article keeps at least one language variant")
    data = {
        "slug": patch.slug or row.slug,
        "tags": row.tags if patch.tags is None else patch.tags,
        "status": patch.status or row.status,
        "variants": variants,
    }
    try:
        return ArticleIn.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise InvalidArticle(tuple(first["loc"]), str(first["msg"])) from None


async def patch_article(
    session: AsyncSession, article_id: uuid.UUID, patch: ArticlePatch, *, actor: str
) -> list[str]:
    row = await _load(session, article_id)
    return await replace_article(session, article_id, merged(row, patch), actor=actor)


async def delete_article(session: AsyncSession, article_id: uuid.UUID, *, actor: str) -> str:
    row = await _load(session, article_id)
    slug = row.slug
    await session.delete(row)
    await session.flush()
    await publish(session, ArticleDeleted(article_id=article_id, slug=slug), actor=actor)
    return slug


STARTER_MARKER = "_kb_starter_articles"
"""Workspace-settings key recording that the starter articles were seeded (never twice)."""


def starter_articles() -> list[ArticleIn]:
    """The default pack's articles, as the workspace file would declare them."""
    from relaydesk.bot.pack import load_pack

    return [
        ArticleIn(
            slug=a.slug,
            tags=list(a.tags),
            status="published",
            variants={
                lang: {"title": v.title, "body": v.body, "questions": list(v.questions)}
                for lang, v in a.variants.items()
            },
        )
        for a in load_pack().articles
    ]


async def apply_knowledge_base(
    session: AsyncSession, loaded: LoadedWorkspace, *, actor: str
) -> list[Change]:
    """The ``knowledge_base:`` section: create or update declared articles, idempotently.

    Articles the file does not declare are left alone unless ``prune: true``. A file that
    declares no articles seeds the default pack's starter articles into an empty knowledge
    base, once per database (``starter_articles: false`` turns that off). Like the rest of
    the workspace file, this publishes no per-article events: ``WorkspaceApplied`` lists
    the changes.
    """
    from relaydesk.workspace.actions import Change
    from relaydesk.workspace.models import WorkspaceSetting

    spec = loaded.spec.knowledge_base
    seen: dict[str, int] = {}
    for index, article in enumerate(spec.articles):
        if article.slug in seen:
            raise loaded.error(
                ("knowledge_base", "articles", index, "slug"),
                f"{article.slug!r} appears twice (first at articles[{seen[article.slug]}])",
            )
        seen[article.slug] = index

    now = clock.now()
    changes: list[Change] = []
    declared = list(spec.articles)
    if not declared and spec.starter_articles:
        marker = await session.get(WorkspaceSetting, STARTER_MARKER)
        empty = await session.scalar(select(KbArticle.id).limit(1)) is None
        if marker is None and empty:
            declared = starter_articles()
            session.add(
                WorkspaceSetting(
                    key=STARTER_MARKER, value={"value": {"pack": "default"}}, updated_at=now
                )
            )

    existing = {row.slug: row for row in (await session.scalars(select(KbArticle))).all()}
    for article in declared:
        row = existing.get(article.slug)
        if row is None:
            session.add(new_article(article, now))
            changes.append(Change("article", article.slug, "created"))
            continue
        changed = sync_article(row, article, now)
        if changed:
            row.revision += 1
        changes.append(
            Change("article", article.slug, "updated" if changed else "unchanged", changed)
        )
    if spec.prune:
        for slug, row in sorted(existing.items()):
            if slug not in seen:
                await session.delete(row)
                changes.append(Change("article", slug, "deleted"))
    await session.flush()
    return changes
