"""``/console/admin``: channels with health, routing policy, the audit log; the agents and
teams (people.py), skills (skills.py), intents (intents.py), knowledge base (kb.py) and
canned replies (canned.py) join here.

Admins edit; supervisors read (forms are shown disabled, and a POST gets the 403 page).
Every edit is validated with the workspace file's own specs, errors shown next to their
field, and written with an audit entry (console/admin/actions.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from relaydesk.audit.queries import audit_page
from relaydesk.channels.models import Channel
from relaydesk.channels.schemas import ChannelHealth, ChannelOut
from relaydesk.console.access import may_edit
from relaydesk.console.admin.actions import NotFound, Refused, update_channel, update_routing
from relaydesk.console.admin.canned import router as canned_router
from relaydesk.console.admin.common import can_read, edit_form, hub_of, who
from relaydesk.console.admin.forms import Errors, YamlError, errors_of, mapping_from_yaml, to_yaml
from relaydesk.console.admin.intents import router as intents_router
from relaydesk.console.admin.kb import router as kb_router
from relaydesk.console.admin.people import router as people_router
from relaydesk.console.admin.skills import router as skills_router
from relaydesk.console.auth import UserDep
from relaydesk.console.rendering import render
from relaydesk.routing.actions.settings import stored_form
from relaydesk.routing.queries import load_context
from relaydesk.routing.schemas import RoutingConfig
from relaydesk.workspace.schemas import ChannelSpec

router = APIRouter(prefix="/admin")
router.include_router(people_router)
router.include_router(skills_router)
router.include_router(kb_router)
router.include_router(canned_router)
router.include_router(intents_router)


def _out(row: Channel) -> ChannelOut:
    """As ``GET /api/v1/channels`` shows it."""
    return ChannelOut(
        name=row.name,
        kind=row.kind,
        display_name=row.display_name,
        enabled=row.enabled,
        settings=row.settings,
        health=ChannelHealth(
            last_inbound_at=row.last_inbound_at,
            last_outbound_at=row.last_outbound_at,
            last_error=row.last_error,
            last_error_at=row.last_error_at,
        ),
    )


@router.get("")
@router.get("/")
async def admin_home(user: UserDep) -> Response:
    return can_read(user) or RedirectResponse("/console/admin/channels", status_code=303)


@router.get("/channels")
async def channels_page(request: Request, user: UserDep) -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    async with hub_of(request).db.read() as session:
        rows = (await session.scalars(select(Channel).order_by(Channel.name))).all()
    return render(
        "admin/channels.html", user=user, editable=may_edit(user), channels=[_out(r) for r in rows]
    )


async def _channel(request: Request, name: str) -> ChannelOut | None:
    async with hub_of(request).db.read() as session:
        row = await session.scalar(select(Channel).where(Channel.name == name))
    return None if row is None else _out(row)


def _channel_page(
    user: Any, channel: ChannelOut, form: dict[str, Any], errors: Errors, saved: str | None
) -> Response:
    return render(
        "admin/channel.html",
        422 if errors else 200,
        user=user,
        editable=may_edit(user),
        channel=channel,
        form=form,
        errors=errors,
        saved=saved,
    )


@router.get("/channels/{name}")
async def channel_page(name: str, request: Request, user: UserDep, saved: str = "") -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    channel = await _channel(request, name)
    if channel is None:
        return render("admin/missing.html", 404, user=user, what=f"channel {name}")
    form = {
        "display_name": channel.display_name or "",
        "enabled": channel.enabled,
        "settings": to_yaml(channel.settings),
    }
    return _channel_page(user, channel, form, {}, "Channel saved." if saved else None)


@router.post("/channels/{name}")
async def channel_save(name: str, request: Request, user: UserDep) -> Response:
    posted = await edit_form(request, user)
    if not isinstance(posted, dict):
        return posted
    channel = await _channel(request, name)
    if channel is None:
        return render("admin/missing.html", 404, user=user, what=f"channel {name}")
    form: dict[str, Any] = {
        "display_name": posted.get("display_name", ""),
        "enabled": posted.get("enabled") == "on",
        "settings": posted.get("settings", ""),
    }
    errors: Errors = {}
    try:
        settings = mapping_from_yaml(form["settings"], "settings")
        spec = ChannelSpec(
            name=channel.name,
            kind=channel.kind,
            display_name=form["display_name"].strip() or None,
            enabled=form["enabled"],
            settings=settings,
        )
    except YamlError as exc:
        errors = {"settings": str(exc)}
    except ValidationError as exc:
        errors = errors_of(exc)
    if errors:
        return _channel_page(user, channel, form, errors, None)
    try:
        await hub_of(request).db.transaction(lambda s: update_channel(s, spec, who(user)))
    except Refused as exc:
        return _channel_page(user, channel, form, {exc.field: str(exc)}, None)
    except NotFound:
        return render("admin/missing.html", 404, user=user, what=f"channel {name}")
    return RedirectResponse(f"/console/admin/channels/{name}?saved=1", status_code=303)


def _routing_page(user: Any, text: str, errors: Errors, saved: str | None, policy: str) -> Response:
    return render(
        "admin/routing.html",
        422 if errors else 200,
        user=user,
        editable=may_edit(user),
        text=text,
        errors=errors,
        saved=saved,
        policy=policy,
    )


@router.get("/routing")
async def routing_page(request: Request, user: UserDep, saved: str = "") -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    async with hub_of(request).db.read() as session:
        config = (await load_context(session)).config
    return _routing_page(
        user, to_yaml(stored_form(config)), {}, "Routing saved." if saved else None, config.policy
    )


@router.post("/routing")
async def routing_save(request: Request, user: UserDep) -> Response:
    posted = await edit_form(request, user)
    if not isinstance(posted, dict):
        return posted
    text = posted.get("routing", "")
    try:
        config = RoutingConfig.model_validate(mapping_from_yaml(text, "the routing section"))
    except YamlError as exc:
        return _routing_page(user, text, {"routing": str(exc)}, None, "")
    except ValidationError as exc:
        problems = errors_of(exc)
        message = "; ".join(f"{k}: {v}" if k else v for k, v in problems.items())
        return _routing_page(user, text, {"routing": message}, None, "")
    await hub_of(request).db.transaction(lambda s: update_routing(s, config, who(user)))
    hub_of(request).wake_worker()
    return RedirectResponse("/console/admin/routing?saved=1", status_code=303)


AUDIT_KINDS = (
    "agent",
    "team",
    "channel",
    "routing",
    "intent",
    "kb_article",
    "canned_reply",
    "journey",
)
"""The audit log's kind filter: the ``target_kind`` of each admin edit (and journeys)."""


@router.get("/audit")
async def audit_log_page(
    request: Request, user: UserDep, kind: str | None = None, before: str | None = None
) -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    cursor = None
    if before:
        try:
            cursor = uuid.UUID(before)
        except ValueError:
            cursor = None
    chosen = kind if kind in AUDIT_KINDS else None
    async with hub_of(request).db.read() as session:
        page = await audit_page(session, limit=50, before=cursor, target_kind=chosen)
    return render("admin/audit.html", user=user, page=page, kind=chosen, kinds=AUDIT_KINDS)
