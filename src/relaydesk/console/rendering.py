"""Jinja2 environment, template filters and the console's static files."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from relaydesk import clock

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static" / "console"
ASSETS = {
    "console.css": "text/css; charset=utf-8",
    "live.js": "text/javascript; charset=utf-8",
    "journey.js": "text/javascript; charset=utf-8",
    "countdown.js": "text/javascript; charset=utf-8",
}


@lru_cache(maxsize=1)
def assets_version() -> str:
    digest = hashlib.sha256()
    for name in sorted(ASSETS):
        digest.update((STATIC / name).read_bytes())
    return digest.hexdigest()[:12]


def asset_url(name: str) -> str:
    return f"/console/static/{name}?v={assets_version()}"


def ago(moment: datetime | None) -> str:
    """'4 min', '3 h', '2 d': how long ago, for waiting times and activity."""
    if moment is None:
        return ""
    seconds = max(0, int((clock.now() - moment).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d"


def local_time(timezone: str | None) -> str | None:
    """The customer's wall-clock time now ('Mon 14:05 (Europe/Stockholm)'), if known."""
    if not timezone:
        return None
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return f"{clock.now().astimezone(zone):%a %H:%M} ({timezone})"


def stamp(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates" / "console"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ago"] = ago
    env.filters["stamp"] = stamp
    env.globals["asset_url"] = asset_url
    env.globals["local_time"] = local_time
    return env


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = environment().get_template(name).render(**context)
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "Content-Security-Policy": (
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
            ),
        },
    )
