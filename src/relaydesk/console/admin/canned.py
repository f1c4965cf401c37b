"""Admin pages for canned replies: the list, and one form per reply with a text per
language (plus an empty block to add one). Validated as the workspace file's
``CannedReplySpec`` (so an unknown {variable} is refused here as it is by ``apply``), saved
with an audit entry by canned/actions.py."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from relaydesk.canned.actions import (
    CannedNameTaken,
    CannedNotFound,
    delete_canned_reply,
    save_canned_reply,
)
from relaydesk.canned.models import CannedReply
from relaydesk.canned.queries import all_canned
from relaydesk.canned.render import VARIABLES
from relaydesk.canned.schemas import CannedReplySpec
from relaydesk.console.access import may_edit
from relaydesk.console.admin.common import can_read, edit_form, hub_of, who
from relaydesk.console.admin.forms import Errors
from relaydesk.console.auth import ConsoleUser, UserDep
from relaydesk.console.rendering import render

router = APIRouter()
MAX_LANGUAGES = 30


@router.get("/canned")
async def canned_list(request: Request, user: UserDep, deleted: str = "") -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    async with hub_of(request).db.read() as session:
        rows = await all_canned(session)
    return render(
        "admin/canned.html",
        user=user,
        editable=may_edit(user),
        replies=rows,
        notice="Canned reply deleted." if deleted else None,
    )


def _empty() -> dict[str, str]:
    return {"lang": "", "text": ""}


def _form_of(row: CannedReply | None) -> dict[str, Any]:
    if row is None:
        return {"name": "", "title": "", "texts": [{"lang": "en", "text": ""}]}
    texts = [{"lang": k, "text": v} for k, v in sorted(row.texts.items())]
    return {"name": row.name, "title": row.title, "texts": [*texts, _empty()]}


def _page(
    user: ConsoleUser,
    reply_id: uuid.UUID | None,
    form: dict[str, Any],
    errors: Errors,
    saved: str | None,
) -> Response:
    return render(
        "admin/canned_reply.html",
        422 if errors else 200,
        user=user,
        editable=may_edit(user),
        reply_id=reply_id,
        form=form,
        errors=errors,
        saved=saved,
        variables=VARIABLES,
    )


def parse_canned(posted: dict[str, str]) -> tuple[dict[str, Any], CannedReplySpec | None, Errors]:
    """The form as typed, the spec if valid, and errors by field name."""
    try:
        count = min(MAX_LANGUAGES, max(1, int(posted.get("text_count", "1") or 1)))
    except ValueError:
        count = 1
    form: dict[str, Any] = {
        "name": posted.get("name", ""),
        "title": posted.get("title", ""),
        "texts": [],
    }
    errors: Errors = {}
    texts: dict[str, str] = {}
    where: dict[str, int] = {}
    for i in range(count):
        entry = {"lang": posted.get(f"lang_{i}", "").strip(), "text": posted.get(f"text_{i}", "")}
        form["texts"].append(entry)
        if not entry["text"].strip():
            continue  # an emptied text removes that language
        if entry["lang"] in texts:
            errors[f"lang_{i}"] = f"{entry['lang']!r} appears twice"
            continue
        if not entry["lang"]:
            errors[f"lang_{i}"] = "give the language code (en, sv, …)"
            continue
        where[entry["lang"]] = i
        texts[entry["lang"]] = entry["text"]
    if not texts and not errors:
        errors["text_0"] = "give at least one text"
    if form["texts"][-1]["lang"] or form["texts"][-1]["text"]:
        form["texts"].append(_empty())
    if errors:
        return form, None, errors
    try:
        spec = CannedReplySpec(name=form["name"].strip(), title=form["title"], texts=texts)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = [str(p) for p in error["loc"]]
            message = str(error["msg"]).removeprefix("Value error, ")
            if loc[:1] == ["texts"]:
                if len(loc) >= 2 and loc[1] in where:
                    key = f"{'lang' if len(loc) == 3 and loc[2] == '[key]' else 'text'}_"
                    errors.setdefault(f"{key}{where[loc[1]]}", message)
                    continue
                lang, sep, rest = message.partition(": ")
                if sep and lang in where:
                    errors.setdefault(f"text_{where[lang]}", rest)
                    continue
                errors.setdefault("text_0", message)
            else:
                errors.setdefault(loc[0] if loc else "", message)
        return form, None, errors
    return form, spec, {}


def _id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


@router.get("/canned/new")
async def new_page(user: UserDep) -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    return _page(user, None, _form_of(None), {}, None)


@router.get("/canned/{reply_id}")
async def edit_page(reply_id: str, request: Request, user: UserDep, saved: str = "") -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    parsed = _id(reply_id)
    row = None
    if parsed is not None:
        async with hub_of(request).db.read() as session:
            row = await session.get(CannedReply, parsed)
    if row is None:
        return render("admin/missing.html", 404, user=user, what="such canned reply")
    return _page(user, row.id, _form_of(row), {}, "Canned reply saved." if saved else None)


async def _save(request: Request, user: ConsoleUser, reply_id: uuid.UUID | None) -> Response:
    posted = await edit_form(request, user)
    if not isinstance(posted, dict):
        return posted
    form, spec, errors = parse_canned(posted)
    if spec is None:
        return _page(user, reply_id, form, errors, None)
    acting = who(user)
    try:
        saved_id = await hub_of(request).db.transaction(
            lambda s: save_canned_reply(
                s, reply_id, spec, actor=acting.actor, actor_name=acting.name
            )
        )
    except CannedNameTaken:
        return _page(user, reply_id, form, {"name": "another canned reply has this name"}, None)
    except CannedNotFound:
        return render("admin/missing.html", 404, user=user, what="such canned reply")
    return RedirectResponse(f"/console/admin/canned/{saved_id}?saved=1", status_code=303)


@router.post("/canned/new")
async def create_route(request: Request, user: UserDep) -> Response:
    return await _save(request, user, None)


@router.post("/canned/{reply_id}")
async def update_route(reply_id: str, request: Request, user: UserDep) -> Response:
    parsed = _id(reply_id)
    if parsed is None:
        return render("admin/missing.html", 404, user=user, what="such canned reply")
    return await _save(request, user, parsed)


@router.post("/canned/{reply_id}/delete")
async def delete_route(reply_id: str, request: Request, user: UserDep) -> Response:
    posted = await edit_form(request, user)
    if not isinstance(posted, dict):
        return posted
    parsed = _id(reply_id)
    if parsed is None:
        return render("admin/missing.html", 404, user=user, what="such canned reply")
    acting = who(user)
    try:
        await hub_of(request).db.transaction(
            lambda s: delete_canned_reply(s, parsed, actor=acting.actor, actor_name=acting.name)
        )
    except CannedNotFound:
        return render("admin/missing.html", 404, user=user, what="such canned reply")
    return RedirectResponse("/console/admin/canned?deleted=1", status_code=303)
