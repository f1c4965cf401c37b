"""The journey view's "next status update" form (outreach proactive updates)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.console import auth
from relaydesk.console.auth import UserDep
from relaydesk.console.composer import (
    NotYours,
    _check_holder,
    _hub,
    _load,
    _render,
    parse_journey_id,
    reply_block,
    router,
)
from relaydesk.outreach.actions.updates import UpdateError, wait_on_company
from relaydesk.workspace.config import load_workspace_config


@router.post("/journeys/{journey_id}/next-update")
async def next_update_route(journey_id: str, request: Request, user: UserDep) -> Response:
    hub = _hub(request)
    form = await auth.read_form(request)
    auth.check_csrf(user, request, form)
    target = parse_journey_id(journey_id)
    loaded = await _load(hub, target, user)
    if isinstance(loaded, RedirectResponse):
        return loaded
    blocked = reply_block(user, loaded.journey.owner.type, loaded.journey.owner.agent_id)
    if blocked is not None:
        return await _render(hub, user, loaded, 403, refusal=blocked)
    text = form.get("text", "").strip() or None
    if text is not None and len(text) > 1600:
        return await _render(
            hub, user, loaded, 400, refusal="An update is at most 1600 characters."
        )
    raw_at = form.get("at", "").strip()
    at: datetime | None = None
    if raw_at:
        try:
            at = datetime.fromisoformat(raw_at)
        except ValueError:
            return await _render(
                hub, user, loaded, 400, refusal="Give the time as a date and time."
            )

    async def write(session: AsyncSession) -> None:
        nonlocal at
        await _check_holder(session, user, target)
        if at is not None and at.tzinfo is None:
            zone = ZoneInfo((await load_workspace_config(session)).timezone)
            at = at.replace(tzinfo=zone)
        await wait_on_company(
            session, target, actor=f"agent:{user.agent_id}", next_at=at, text=text
        )

    try:
        await hub.db.transaction(write)
    except NotYours as exc:
        return await _render(hub, user, loaded, 409, refusal=exc.reason)
    except UpdateError as exc:
        return await _render(
            hub, user, loaded, 400 if exc.status == 422 else exc.status, refusal=exc.message
        )
    hub.wake_worker()
    return RedirectResponse(f"/console/journeys/{target}?sent=next_update", status_code=303)
