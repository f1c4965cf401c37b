"""Small inline channel icons, so a timeline mixing channels reads at a glance.

Plain line drawings (ours, no brand marks), hidden from screen readers: the channel's name
always follows in text, so the icon adds no information a reader would miss.
"""

from __future__ import annotations

from markupsafe import Markup

_PATHS = {
    "chat": "M4 5h16v10H9l-5 4z",
    "email": "M3 6h18v12H3z M3 6l9 7 9-7",
    "sms": "M7 3h10v18H7z M11 18h2",
    "whatsapp": "M12 3a9 9 0 0 0-7.8 13.5L3 21l4.6-1.2A9 9 0 1 0 12 3z M9 9c0 3 3 6 6 6",
    "messenger": "M12 3C7 3 3 6.6 3 11c0 2.5 1.3 4.7 3.3 6.2V21l3-1.7c.9.2 1.8.4 2.7.4 "
    "5 0 9-3.6 9-8s-4-8-9-8z M7 13l3.5-3 2.5 2 4-3",
    "instagram": "M6 3h12a3 3 0 0 1 3 3v12a3 3 0 0 1-3 3H6a3 3 0 0 1-3-3V6a3 3 0 0 1 3-3z "
    "M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8z M17 6.5h.01",
    "telegram": "M21 4L3 11l6 2 2 6 3-4 5 4z M9 13l12-9",
    "voice": "M5 3h4l2 5-2.5 1.5a11 11 0 0 0 6 6L16 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 5"
    "a2 2 0 0 1 2-2z",
    "api": "M8 6l-5 6 5 6 M16 6l5 6-5 6",
}
_KIND_ICON = {
    "webchat": "chat",
    "email": "email",
    "twilio_sms": "sms",
    "twilio_whatsapp": "whatsapp",
    "whatsapp_cloud": "whatsapp",
    "messenger": "messenger",
    "instagram": "instagram",
    "telegram": "telegram",
    "twilio_voice": "voice",
    "api": "api",
}


def channel_icon(kind: object) -> Markup:
    """The icon of a channel kind (``email``, ``twilio_sms``, …); nothing for an unknown one."""
    name = _KIND_ICON.get(kind) if isinstance(kind, str) else None
    if name is None:
        return Markup("")
    return Markup(
        '<svg class="chan-icon icon-{0}" viewBox="0 0 24 24" width="14" height="14" '
        'aria-hidden="true" focusable="false"><path d="{1}"/></svg>'
    ).format(name, _PATHS[name])
