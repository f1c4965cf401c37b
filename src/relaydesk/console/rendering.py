"""Jinja2 environment, template filters and the console's static files."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from relaydesk import clock
from relaydesk.console.icons import channel_icon
from relaydesk.customers.timezones import guess_zone

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


def local_time(
    timezone: str | None, country: str | None = None, phone: str | None = None
) -> str | None:
    """The customer's wall-clock time now ('Mon 14:05 (Europe/Stockholm)'), if known or
    guessable without doubt from the phone number or country (then the guess says so)."""
    guess = guess_zone(timezone, country, [phone] if phone else [], unambiguous=True)
    if guess is None:
        return None
    where = f"{guess.name}, {guess.source}" if guess.source else guess.name
    return f"{clock.now().astimezone(guess.zone):%a %H:%M} ({where})"


def stamp(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


DELIVERY_WORDS = {
    "queued": "Sending…",
    "sent": "Sent ✓",
    "delivered": "Delivered ✓✓",
    "read": "Read ✓✓",
    "failed": "Failed ✖",
}


def delivery(status: str | None) -> str:
    """A reply's delivery status in words (and marks, not colour only)."""
    return DELIVERY_WORDS.get(status or "", (status or "").capitalize())


def sentiment(value: Any) -> str:
    """The bot's sentiment reading (``{label, score, frustrated, signals}``) in words:
    'Negative, frustrated (all caps, repeated message)'."""
    if not isinstance(value, dict):
        return "" if value is None else str(value)
    parts = []
    label = value.get("label")
    if isinstance(label, str) and label:
        parts.append(label.capitalize())
    if value.get("frustrated"):
        parts.append("frustrated" if parts else "Frustrated")
    text = ", ".join(parts) or "Not clear"
    score = value.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool):
        text += f" (score {score:+.2f})"
    signals = value.get("signals")
    if isinstance(signals, list) and signals:
        text += "; signs: " + ", ".join(str(s).replace("_", " ") for s in signals)
    return text


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
    env.filters["delivery"] = delivery
    env.filters["sentiment"] = sentiment
    env.globals["asset_url"] = asset_url
    env.globals["local_time"] = local_time
    env.globals["channel_icon"] = channel_icon
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
