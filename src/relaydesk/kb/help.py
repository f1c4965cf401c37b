"""The public help centre: ``/help`` (index, search, topics) and ``/help/{slug}`` (an article).

Server-rendered HTML that works without JavaScript: search is a GET form (``?q=``), topics
are links (``?tag=``), the language comes from ``?lang=`` or ``Accept-Language``. Search uses
the bot's own retrieval, so a customer and the bot find the same article for a question.
Everything a page shows is escaped by Jinja2's autoescaping; bodies go through
``render.to_html`` (Markdown with raw HTML escaped). No authentication: only published
articles are shown.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import select

from relaydesk.bot.kb import KnowledgeBase, article_url
from relaydesk.bot.pack import Article
from relaydesk.hub import Hub
from relaydesk.journeys.api import workspace_config
from relaydesk.kb.i18n import NAMES, TEXTS, choose_language, texts
from relaydesk.kb.models import KbArticle
from relaydesk.kb.queries import load_knowledge_base
from relaydesk.kb.render import snippet, to_html

router = APIRouter(prefix="/help", tags=["help centre"], include_in_schema=False)

HERE = Path(__file__).parent
CSS = HERE / "static" / "help.css"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Vary": "Accept-Language",
}


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=1)
def css_version() -> str:
    return hashlib.sha256(CSS.read_bytes()).hexdigest()[:12]


def _site(hub: Hub, request: Request) -> str:
    """Absolute base for canonical and hreflang links."""
    return hub.settings.public_url or str(request.base_url).rstrip("/")


def _variant_language(article: Article, preferred: str, default: str) -> str:
    for candidate in (preferred, default, "en"):
        if candidate in article.variants:
            return candidate
    return sorted(article.variants)[0]


async def _page(
    request: Request, template: str, *, language: str, status: int = 200, **context: Any
) -> HTMLResponse:
    hub: Hub = request.app.state.hub
    config = await workspace_config(hub)
    html = (
        _env()
        .get_template(template)
        .render(
            lang=language,
            t=texts(language),
            site_name=config.name,
            css=f"/help/-/help.css?v={css_version()}",
            language_names=NAMES,
            **context,
        )
    )
    headers = {**SECURITY_HEADERS, "Content-Language": language, "Cache-Control": "no-cache"}
    return HTMLResponse(html, status_code=status, headers=headers)


@router.get("/-/help.css")
async def stylesheet() -> Response:
    return Response(
        CSS.read_bytes(),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


def _languages(kb: KnowledgeBase) -> set[str]:
    return {lang for article in kb.articles for lang in article.variants}


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def index(
    request: Request,
    q: Annotated[str | None, Query(max_length=500)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    lang: Annotated[str | None, Query(max_length=8)] = None,
) -> HTMLResponse:
    hub: Hub = request.app.state.hub
    config = await workspace_config(hub)
    kb = await load_knowledge_base(hub)
    language = choose_language(
        _languages(kb) | {config.default_language},
        requested=lang,
        accept_language=request.headers.get("accept-language"),
        default=config.default_language,
    )
    query = (q or "").strip()
    wanted_tag = (tag or "").strip().lower() or None
    tags = sorted({t for article in kb.articles for t in article.tags})
    results = []
    if query:
        for match in kb.search(query, language, top_k=10):
            results.append(
                {
                    "title": match.title,
                    "snippet": snippet(match.body),
                    "href": article_url("", match.slug, match.language),
                    "language": match.language,
                }
            )
    listed = [a for a in kb.articles if wanted_tag is None or wanted_tag in a.tags]
    cards = []
    for article in listed:
        chosen = _variant_language(article, language, config.default_language)
        variant = article.variants[chosen]
        cards.append(
            {
                "title": variant.title,
                "snippet": snippet(variant.body, 140),
                "href": article_url("", article.slug, chosen),
                "language": chosen,
            }
        )
    cards.sort(key=lambda c: c["title"].casefold())
    return await _page(
        request,
        "help/index.html",
        language=language,
        query=query,
        tag=wanted_tag,
        tags=tags,
        results=results,
        cards=cards,
        total=len(kb.articles),
        canonical=f"{_site(hub, request)}/help",
    )


@router.get("/{slug}", response_class=HTMLResponse)
async def article_page(
    slug: str,
    request: Request,
    lang: Annotated[str | None, Query(max_length=8)] = None,
) -> HTMLResponse:
    hub: Hub = request.app.state.hub
    config = await workspace_config(hub)
    async with hub.db.read() as session:
        row = await session.scalar(
            select(KbArticle).where(KbArticle.slug == slug, KbArticle.status == "published")
        )
        variants = {v.language: v for v in row.variants} if row is not None else {}
        tags = list(row.tags) if row is not None else []
    accept = request.headers.get("accept-language")
    if not variants:
        language = choose_language(
            TEXTS, requested=lang, accept_language=accept, default=config.default_language
        )
        return await _page(request, "help/not_found.html", language=language, status=404, slug=slug)
    language = choose_language(
        variants, requested=lang, accept_language=accept, default=config.default_language
    )
    variant = variants[language]
    site = _site(hub, request)
    return await _page(
        request,
        "help/article.html",
        language=language,
        title=variant.title,
        body=Markup(to_html(variant.body)),  # noqa: S704 - markdown-it escapes raw HTML
        questions=variant.questions,
        tags=tags,
        updated=variant.updated_at.date().isoformat(),
        alternates=[
            {"language": code, "href": article_url(site, slug, code)} for code in sorted(variants)
        ],
        others=[
            {"language": code, "href": article_url("", slug, code)}
            for code in sorted(variants)
            if code != language
        ],
        canonical=article_url(site, slug, language),
        default_href=f"{site}/help/{slug}",
    )
