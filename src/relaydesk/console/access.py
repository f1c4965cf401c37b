"""Role gates for the supervisor and admin pages: a plain 403 page for everyone else."""

from __future__ import annotations

from fastapi.responses import HTMLResponse

from relaydesk.console.auth import ConsoleUser
from relaydesk.console.rendering import environment, render


def duration(seconds: float | None) -> str:
    """'45 s', '3 min', '1 h 5 min' for waits."""
    if seconds is None:
        return ""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


environment().filters["duration"] = duration

SUPERVISING = ("supervisor", "admin")
ADMINISTERING = ("admin",)


def forbidden(user: ConsoleUser, needed: str) -> HTMLResponse:
    return render("forbidden.html", 403, user=user, needed=needed)


def gate(user: ConsoleUser, roles: tuple[str, ...]) -> HTMLResponse | None:
    """None when ``user`` may see the page; otherwise the 403 page to answer with."""
    if user.role in roles:
        return None
    return forbidden(user, " or ".join(roles))


def may_edit(user: ConsoleUser) -> bool:
    """Admins edit the workspace; supervisors see the admin pages read-only."""
    return user.role in ADMINISTERING
