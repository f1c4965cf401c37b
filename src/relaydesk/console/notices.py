"""SLA escalation notices in the inbox: the assignee and supervisors an escalation names find
it there until they open the journey or dismiss it (the live socket only reaches consoles
that were open when it fired); opening the journey counts as seeing it (``unread.py``)."""

from __future__ import annotations

import uuid

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from relaydesk.console import auth
from relaydesk.console.auth import UserDep
from relaydesk.console.composer import _hub, router
from relaydesk.sla.actions import dismiss_notices


def _back(form: dict[str, str]) -> str:
    """Back where the form was sent from, only ever a console page."""
    target = form.get("next", "")
    return target if target.startswith("/console") and "//" not in target else "/console"


@router.post("/notices/dismiss")
async def dismiss_all(request: Request, user: UserDep) -> Response:
    form = await auth.read_form(request)
    auth.check_csrf(user, request, form)
    await _hub(request).db.transaction(lambda s: dismiss_notices(s, user.agent_id))
    return RedirectResponse(_back(form), status_code=303)


@router.post("/notices/{notice_id}/dismiss")
async def dismiss_one(notice_id: str, request: Request, user: UserDep) -> Response:
    form = await auth.read_form(request)
    auth.check_csrf(user, request, form)
    try:
        wanted = uuid.UUID(notice_id)
    except ValueError:
        raise HTTPException(404, "no such notice") from None
    await _hub(request).db.transaction(
        lambda s: dismiss_notices(s, user.agent_id, notice_id=wanted)
    )
    return RedirectResponse(_back(form), status_code=303)
