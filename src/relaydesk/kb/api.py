"""Routes: /api/v1/kb — articles (CRUD by slug or id) and search with the bot's retrieval."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.api.deps import HubDep, PrincipalDep
from relaydesk.api.errors import ApiError, field_error
from relaydesk.hub import Hub
from relaydesk.kb.actions import (
    ArticleNotFound,
    InvalidArticle,
    SlugTaken,
    create_article,
    delete_article,
    patch_article,
    replace_article,
)
from relaydesk.kb.queries import (
    article_by_ref,
    article_out,
    base_url,
    invalidate,
    list_articles,
    load_knowledge_base,
)
from relaydesk.kb.render import snippet
from relaydesk.kb.schemas import (
    LANGUAGE,
    ArticleIn,
    ArticleList,
    ArticleOut,
    ArticlePatch,
    SearchHit,
    SearchResult,
)

router = APIRouter(prefix="/kb", tags=["knowledge base"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No article by that slug or id"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"description": "The slug is taken"}}
LanguageQuery = Annotated[str | None, Query(pattern=LANGUAGE, description="e.g. en, sv")]


def _not_found(ref: object) -> ApiError:
    return ApiError(404, "article_not_found", f"no article with slug or id {ref}")


def _slug_taken(exc: SlugTaken) -> ApiError:
    return ApiError(409, "slug_taken", str(exc), slug=exc.slug)


async def _out(hub: Hub, article_id: uuid.UUID) -> ArticleOut:
    async with hub.db.read() as session:
        row = await article_by_ref(session, str(article_id))
        if row is None:
            raise _not_found(article_id)
        return article_out(row, base_url(hub))


async def _id_of(hub: Hub, ref: str) -> uuid.UUID:
    async with hub.db.read() as session:
        row = await article_by_ref(session, ref)
    if row is None:
        raise _not_found(ref)
    return row.id


async def _write(hub: Hub, ref: str, work: Callable[[AsyncSession], Awaitable[object]]) -> None:
    try:
        await hub.db.transaction(work)
    except ArticleNotFound:
        raise _not_found(ref) from None
    except SlugTaken as exc:
        raise _slug_taken(exc) from None
    except InvalidArticle as exc:
        raise field_error(("body", *exc.field), exc.message) from None
    invalidate(hub)


@router.get("/articles", response_model=ArticleList, summary="Articles, filtered")
async def get_articles(
    hub: HubDep,
    _: PrincipalDep,
    language: LanguageQuery = None,
    tag: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text the article contains")] = None,
    status: Literal["draft", "published"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ArticleList:
    async with hub.db.read() as session:
        rows = await list_articles(session, language=language, tag=tag, q=q, status=status)
        page = [article_out(row, base_url(hub)) for row in rows[offset : offset + limit]]
    following = offset + limit
    return ArticleList(
        items=page, total=len(rows), next_offset=following if following < len(rows) else None
    )


@router.post(
    "/articles",
    status_code=201,
    response_model=ArticleOut,
    responses=CONFLICT,
    summary="Create an article",
)
async def post_article(
    body: ArticleIn, response: Response, hub: HubDep, principal: PrincipalDep
) -> ArticleOut:
    try:
        article_id = await hub.db.transaction(
            lambda s: create_article(s, body, actor=principal.actor)
        )
    except SlugTaken as exc:
        raise _slug_taken(exc) from None
    invalidate(hub)
    response.headers["Location"] = f"/api/v1/kb/articles/{body.slug}"
    return await _out(hub, article_id)


@router.get("/articles/{ref}", response_model=ArticleOut, responses=NOT_FOUND, summary="An article")
async def get_article(ref: str, hub: HubDep, _: PrincipalDep) -> ArticleOut:
    return await _out(hub, await _id_of(hub, ref))


@router.put(
    "/articles/{ref}",
    response_model=ArticleOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Replace an article (variants not given are removed)",
)
async def put_article(
    ref: str, body: ArticleIn, hub: HubDep, principal: PrincipalDep
) -> ArticleOut:
    article_id = await _id_of(hub, ref)
    await _write(hub, ref, lambda s: replace_article(s, article_id, body, actor=principal.actor))
    return await _out(hub, article_id)


@router.patch(
    "/articles/{ref}",
    response_model=ArticleOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Change some fields; a variant set to null is removed",
)
async def patch_article_route(
    ref: str, body: ArticlePatch, hub: HubDep, principal: PrincipalDep
) -> ArticleOut:
    article_id = await _id_of(hub, ref)
    await _write(hub, ref, lambda s: patch_article(s, article_id, body, actor=principal.actor))
    return await _out(hub, article_id)


@router.delete("/articles/{ref}", status_code=204, responses=NOT_FOUND, summary="Delete an article")
async def delete_article_route(ref: str, hub: HubDep, principal: PrincipalDep) -> Response:
    article_id = await _id_of(hub, ref)
    await _write(hub, ref, lambda s: delete_article(s, article_id, actor=principal.actor))
    return Response(status_code=204)


@router.get(
    "/search",
    response_model=SearchResult,
    summary="Published articles that answer a question (the bot's own retrieval)",
)
async def search(
    hub: HubDep,
    _: PrincipalDep,
    q: Annotated[str, Query(max_length=500, description="The customer's question")],
    language: LanguageQuery = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> SearchResult:
    if not q.strip():
        raise field_error(("query", "q"), "give the question to search for")
    kb = await load_knowledge_base(hub)
    matches = kb.search(q, language, top_k=limit)
    return SearchResult(
        query=q,
        language=language,
        items=[
            SearchHit(
                slug=m.slug,
                language=m.language,
                title=m.title,
                snippet=snippet(m.body),
                score=m.score,
                url=m.url,
            )
            for m in matches
        ],
    )
