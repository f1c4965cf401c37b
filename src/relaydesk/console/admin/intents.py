"""The intents pages: the bot's effective intents (the default pack and the workspace's
``bot:`` section together), one intent's settings and examples, and a new intent.

An edit changes the stored ``bot:`` section, is checked with ``BotSpec`` (and the articles'
existence, as ``relaydesk apply`` checks them), stored with ``store_intents`` like the file's
section, and the model is trained again as after an apply. The workspace file stays the
declaration: its next ``relaydesk apply`` with a ``bot:`` section replaces the stored section,
console edits included.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from relaydesk.bot.intents import workspace_pack
from relaydesk.bot.listeners import start_training
from relaydesk.bot.pack import Pack
from relaydesk.bot.queries import intents_definition
from relaydesk.bot.schemas import MIN_EXAMPLES, BotSpec, default_pack, stored_form
from relaydesk.console.access import may_edit
from relaydesk.console.admin.actions import Refused, save_intent
from relaydesk.console.admin.common import can_read, edit_form, hub_of, who
from relaydesk.console.admin.forms import Errors, lines
from relaydesk.console.auth import ConsoleUser, UserDep
from relaydesk.console.rendering import render

router = APIRouter()


async def _stored(request: Request) -> tuple[str | None, dict[str, Any]]:
    """(version, stored ``bot:`` section); (None, {}) while the workspace declares none."""
    async with hub_of(request).db.read() as session:
        found = await intents_definition(session)
    return (None, {}) if found is None else found


def _effective(definition: dict[str, Any]) -> Pack:
    return workspace_pack(definition) if definition else default_pack()


def _view(pack: Pack, iid: str) -> dict[str, Any]:
    """One intent's effective values as the audit log keeps them (examples as counts)."""
    intent = pack.intents.get(iid)
    if intent is None:
        return {}
    return {
        "bot_may_resolve": intent.bot_may_resolve,
        "article": intent.article,
        "examples": {lang: len(t) for lang, t in sorted(pack.examples.get(iid, {}).items())},
    }


@router.get("/intents")
async def intents_page(request: Request, user: UserDep, saved: str = "") -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    _version, definition = await _stored(request)
    pack = _effective(definition)
    declared = definition.get("intents", {})
    shipped = default_pack().intents
    sources = {
        iid: (
            "workspace"
            if iid not in shipped
            else ("pack, changed by the workspace" if iid in declared else "pack")
        )
        for iid in pack.intents
    }
    counts = {
        iid: {lang: len(texts) for lang, texts in per_lang.items()}
        for iid, per_lang in pack.examples.items()
    }
    notices = {"created": "Intent created.", "updated": "Intent saved.", "0": "Nothing changed."}
    return render(
        "admin/intents.html",
        user=user,
        editable=may_edit(user),
        pack=pack,
        replaced=definition.get("pack") == "none",
        intents=sorted(pack.intents.values(), key=lambda i: i.id),
        sources=sources,
        counts=counts,
        saved=notices.get(saved),
    )


def _intent_page(
    user: ConsoleUser,
    pack: Pack,
    iid: str | None,
    form: dict[str, Any],
    errors: Errors,
) -> Response:
    return render(
        "admin/intent.html",
        422 if errors else 200,
        user=user,
        editable=may_edit(user),
        iid=iid,
        languages=pack.languages,
        counts={lang: len(t) for lang, t in pack.examples.get(iid or "", {}).items()},
        min_examples=MIN_EXAMPLES,
        form=form,
        errors=errors,
    )


def _blank_examples(pack: Pack) -> dict[str, str]:
    return dict.fromkeys(pack.languages, "")


@router.get("/intents/new")
async def new_intent_page(request: Request, user: UserDep) -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    pack = _effective((await _stored(request))[1])
    form = {"id": "", "bot_may_resolve": False, "article": "", "examples": _blank_examples(pack)}
    return _intent_page(user, pack, None, form, {})


@router.get("/intents/{iid}")
async def intent_page(iid: str, request: Request, user: UserDep) -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    pack = _effective((await _stored(request))[1])
    intent = pack.intents.get(iid)
    if intent is None:
        return render("admin/missing.html", 404, user=user, what=f"intent {iid}")
    form = {
        "bot_may_resolve": intent.bot_may_resolve,
        "article": intent.article or "",
        "examples": _blank_examples(pack),
    }
    return _intent_page(user, pack, iid, form, {})


def _field(where: str, iid: str) -> str:
    """The form field a ``BotSpec`` problem at ``where`` (dotted) is about."""
    prefix = f"intents.{iid}"
    if where == prefix:
        return "id"
    parts = where.removeprefix(prefix + ".").split(".")
    if not where.startswith(prefix + "."):
        return ""
    if parts[0] == "examples":
        return f"examples_{parts[1]}" if len(parts) > 1 else "examples"
    return parts[0] if parts[0] in ("article", "bot_may_resolve") else ""


def _errors(exc: ValidationError, iid: str) -> Errors:
    found: Errors = {}
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:
            where = ".".join(str(part) for part in error["loc"])
        else:  # the section's own checks name the place at the start of the message
            where, _, message = message.partition(": ")
        found.setdefault(_field(where, iid), message)
    return found


def _edited(
    definition: dict[str, Any],
    iid: str,
    old: dict[str, Any],
    form: dict[str, Any],
    added: dict[str, list[str]],
) -> dict[str, Any]:
    """The stored section with this intent's declaration changed: only what differs from the
    effective intent (``old``; empty for a new one) is declared, examples are added."""
    data = copy.deepcopy(definition)
    intents = data.setdefault("intents", {})
    decl = dict(intents.get(iid, {}))
    if not old or form["bot_may_resolve"] != old["bot_may_resolve"]:
        decl["bot_may_resolve"] = form["bot_may_resolve"]
    article = form["article"].strip() or None
    if (not old and article) or (old and article != old["article"]):
        decl["article"] = article  # None declared: no article, even if the pack has one
    examples = {lang: list(texts) for lang, texts in decl.get("examples", {}).items()}
    for lang, texts in added.items():
        examples[lang] = [*examples.get(lang, []), *texts]
    if examples:
        decl["examples"] = examples
    if decl or iid in intents:
        intents[iid] = decl
    if not intents:
        data.pop("intents")
    return data


@router.post("/intents/new")
async def new_intent_save(request: Request, user: UserDep) -> Response:
    return await _save(request, user, None)


@router.post("/intents/{iid}")
async def intent_save(iid: str, request: Request, user: UserDep) -> Response:
    return await _save(request, user, iid)


async def _save(request: Request, user: ConsoleUser, iid: str | None) -> Response:
    posted = await edit_form(request, user)
    if not isinstance(posted, dict):
        return posted
    version, definition = await _stored(request)
    pack = _effective(definition)
    created = iid is None
    name = posted.get("id", "").strip() if created else (iid or "")
    if not created and name not in pack.intents:
        return render("admin/missing.html", 404, user=user, what=f"intent {name}")
    form: dict[str, Any] = {
        "id": name,
        "bot_may_resolve": posted.get("bot_may_resolve") == "on",
        "article": posted.get("article", ""),
        "examples": {lang: posted.get(f"examples_{lang}", "") for lang in pack.languages},
    }
    shown = None if created else name
    errors: Errors = {}
    if created and not name:
        errors["id"] = "name the intent"
    elif created and name in pack.intents:
        errors["id"] = f"an intent {name!r} exists; change it on its own page"
    if errors:
        return _intent_page(user, pack, shown, form, errors)
    known = pack.examples.get(name, {})
    added = {}
    for lang, raw in form["examples"].items():
        new = [t for t in dict.fromkeys(lines(raw)) if t not in known.get(lang, ())]
        if new:
            added[lang] = new
    old = _view(pack, name)
    data = _edited(definition, name, old, form, added)
    if data == definition:
        return RedirectResponse("/console/admin/intents?saved=0", status_code=303)
    try:
        spec = BotSpec.model_validate(data)
    except ValidationError as exc:
        return _intent_page(user, pack, shown, form, _errors(exc, name))
    after = {**_view(workspace_pack(stored_form(spec)), name), "added_examples": added}

    try:
        stored = await hub_of(request).db.transaction(
            lambda s: save_intent(
                s,
                spec,
                who(user),
                intent=name,
                created=created,
                expected_version=version,
                before=old,
                after=after,
            )
        )
    except Refused as exc:
        return _intent_page(user, pack, shown, form, {exc.field: str(exc)})
    if stored is not None:
        hub_of(request).config_cache.clear()  # this process answers with it at once
        await start_training(hub_of(request))  # what `relaydesk apply` starts, too
    saved = "created" if created else "updated"
    return RedirectResponse(f"/console/admin/intents?saved={saved}", status_code=303)
