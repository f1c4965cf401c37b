"""Shared by the admin pages: the role gate, who is acting, the form's CSRF check."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from relaydesk.console import auth
from relaydesk.console.access import SUPERVISING, forbidden, gate, may_edit
from relaydesk.console.admin.actions import Who
from relaydesk.console.auth import ConsoleUser
from relaydesk.hub import Hub


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def can_read(user: ConsoleUser) -> HTMLResponse | None:
    """Supervisors and admins read the admin pages; agents get the 403 page."""
    return gate(user, SUPERVISING)


async def edit_form(request: Request, user: ConsoleUser) -> dict[str, str] | HTMLResponse:
    """The posted form of an admin edit (CSRF checked); the 403 page if not an admin."""
    form = await auth.read_form(request)
    auth.check_csrf(user, request, form)
    if not may_edit(user):
        return forbidden(user, "admin")
    return form


def who(user: ConsoleUser) -> Who:
    return Who(actor=f"agent:{user.agent_id}", name=user.name)
