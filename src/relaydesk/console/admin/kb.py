"""Admin pages for the knowledge base: the article list, and one form per article with a
block per language (plus an empty block to add a language). Saved through the kb actions
(``create_article``/``replace_article``), validated as ``ArticleIn``."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from relaydesk.console.access import may_edit
from relaydesk.console.admin.actions import NotFound, save_article
from relaydesk.console.admin.common import can_read, edit_form, hub_of, who
from relaydesk.console.admin.forms import Errors, lines
from relaydesk.console.auth import ConsoleUser, UserDep
from relaydesk.console.rendering import render
from relaydesk.kb.actions import ArticleNotFound, InvalidArticle, SlugTaken
from relaydesk.kb.models import KbArticle
from relaydesk.kb.queries import invalidate, list_articles
from relaydesk.kb.schemas import ArticleIn

router = APIRouter()
MAX_VARIANTS = 30


@router.get("/kb")
async def kb_page(request: Request, user: UserDep) -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    async with hub_of(request).db.read() as session:
        rows = await list_articles(session)
        articles = [
            {
                "id": r.id,
                "slug": r.slug,
                "status": r.status,
                "tags": list(r.tags),
                "languages": sorted(v.language for v in r.variants),
                "title": next((v.title for v in r.variants if v.language == "en"), None)
                or (r.variants[0].title if r.variants else r.slug),
                "updated_at": r.updated_at,
            }
            for r in rows
        ]
    return render("admin/kb.html", user=user, editable=may_edit(user), articles=articles)


def _blank() -> dict[str, Any]:
    return {"slug": "", "status": "draft", "tags": "", "variants": [_empty_variant()]}


def _empty_variant() -> dict[str, str]:
    return {"lang": "", "title": "", "body": "", "questions": "", "remove": ""}


def _form_of(row: KbArticle) -> dict[str, Any]:
    variants = [
        {
            "lang": v.language,
            "title": v.title,
            "body": v.body,
            "questions": "\n".join(v.questions),
            "remove": "",
        }
        for v in sorted(row.variants, key=lambda v: v.language)
    ]
    return {
        "slug": row.slug,
        "status": row.status,
        "tags": ", ".join(row.tags),
        "variants": [*variants, _empty_variant()],
    }


def _article_page(
    user: ConsoleUser,
    article_id: uuid.UUID | None,
    form: dict[str, Any],
    errors: Errors,
    saved: str | None,
) -> Response:
    return render(
        "admin/article.html",
        422 if errors else 200,
        user=user,
        editable=may_edit(user),
        article_id=article_id,
        form=form,
        errors=errors,
        saved=saved,
    )


@router.get("/kb/new")
async def new_article_page(user: UserDep) -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    return _article_page(user, None, _blank(), {}, None)


async def _load(request: Request, raw: str) -> KbArticle | None:
    try:
        article_id = uuid.UUID(raw)
    except ValueError:
        return None
    async with hub_of(request).db.read() as session:
        row = await session.get(KbArticle, article_id)
        if row is not None:
            _ = list(row.variants)
    return row


@router.get("/kb/{article_id}")
async def article_page(
    article_id: str, request: Request, user: UserDep, saved: str = ""
) -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    row = await _load(request, article_id)
    if row is None:
        return render("admin/missing.html", 404, user=user, what="such article")
    return _article_page(user, row.id, _form_of(row), {}, "Article saved." if saved else None)


def parse_article(posted: dict[str, str]) -> tuple[dict[str, Any], ArticleIn | None, Errors]:
    """The form as typed (to show again), the article if valid, and errors by field name."""
    count = min(MAX_VARIANTS + 1, int(posted.get("variant_count", "1") or 1))
    form: dict[str, Any] = {
        "slug": posted.get("slug", ""),
        "status": posted.get("status", ""),
        "tags": posted.get("tags", ""),
        "variants": [],
    }
    errors: Errors = {}
    variants: dict[str, dict[str, Any]] = {}
    where: dict[str, int] = {}
    for i in range(count):
        v = {k: posted.get(f"{k}_{i}", "") for k in ("lang", "title", "body", "questions")}
        v["remove"] = posted.get(f"remove_{i}", "")
        form["variants"].append(v)
        lang = v["lang"].strip()
        if v["remove"] or not (lang or v["title"].strip() or v["body"].strip()):
            continue
        if lang in variants:
            errors[f"lang_{i}"] = f"{lang!r} appears twice"
            continue
        where[lang] = i
        variants[lang] = {
            "title": v["title"],
            "body": v["body"],
            "questions": lines(v["questions"]),
        }
    if not variants and not errors:
        errors["lang_0"] = "an article needs at least one language"
    if form["variants"] and any(v["lang"] or v["title"] for v in form["variants"][-1:]):
        form["variants"].append(_empty_variant())
    if errors:
        return form, None, errors
    try:
        data = ArticleIn(
            slug=form["slug"],
            status=form["status"],
            tags=[t.strip() for t in form["tags"].split(",") if t.strip()],
            variants=variants,
        )
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = [str(p) for p in error["loc"]]
            message = error["msg"].removeprefix("Value error, ")
            if loc[:1] == ["variants"] and len(loc) >= 2:
                index = where.get(loc[1], 0)
                key = f"{loc[2]}_{index}" if len(loc) >= 3 else f"lang_{index}"
                if len(loc) >= 3 and loc[2] not in ("title", "body", "questions"):
                    key = f"lang_{index}"
                errors.setdefault(key, message)
            else:
                errors.setdefault(loc[0] if loc else "", message)
        return form, None, errors
    return form, data, {}


async def _save(request: Request, user: ConsoleUser, article_id: uuid.UUID | None) -> Response:
    posted = await edit_form(request, user)
    if not isinstance(posted, dict):
        return posted
    form, data, errors = parse_article(posted)
    if data is None:
        return _article_page(user, article_id, form, errors, None)
    hub = hub_of(request)
    try:
        saved_id = await hub.db.transaction(lambda s: save_article(s, article_id, data, who(user)))
    except SlugTaken:
        return _article_page(user, article_id, form, {"slug": "another article has it"}, None)
    except InvalidArticle as exc:
        return _article_page(user, article_id, form, {"": str(exc)}, None)
    except (NotFound, ArticleNotFound):
        return render("admin/missing.html", 404, user=user, what="such article")
    invalidate(hub)
    hub.wake_worker()
    return RedirectResponse(f"/console/admin/kb/{saved_id}?saved=1", status_code=303)


@router.post("/kb/new")
async def create_route(request: Request, user: UserDep) -> Response:
    return await _save(request, user, None)


@router.post("/kb/{article_id}")
async def update_route(article_id: str, request: Request, user: UserDep) -> Response:
    try:
        parsed = uuid.UUID(article_id)
    except ValueError:
        return render("admin/missing.html", 404, user=user, what="such article")
    return await _save(request, user, parsed)
