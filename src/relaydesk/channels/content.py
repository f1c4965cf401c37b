"""What a message carries besides its text: reply buttons, attachments, and the marks of an
explicit request for a person (see docs/channels/README.md). Pure helpers shared by every
adapter and by delivery."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

HUMAN_CONTROL_IDS: frozenset[str] = frozenset({"HUMAN_AGENT", "HUMAN", "TALK_TO_PERSON"})
"""Button ids / postback payloads that mean "talk to a person" on every channel (compared
without case). A bot that offers a person as a button gives it one of these ids."""


def human_request(control: str, **extra: Any) -> dict[str, Any]:
    """Message meta for an explicit request for a person made with a channel control.

    The contract other parts rely on: ``meta["requests_human"] is True`` and
    ``meta["control"]`` names the control (see docs/channels/README.md)."""
    return {**extra, "requests_human": True, "control": control}


def is_human_control(value: object, extra: Iterable[str] = ()) -> bool:
    """Whether a button id or payload asks for a person (``HUMAN_CONTROL_IDS`` or ``extra``)."""
    if not isinstance(value, str) or not value:
        return False
    wanted = HUMAN_CONTROL_IDS | {item.upper() for item in extra}
    return value.strip().upper() in wanted


@dataclass(frozen=True)
class Button:
    """A choice offered with a reply: ``id`` comes back when it is pressed, ``title`` is shown."""

    id: str
    title: str


def buttons_from_meta(value: Any) -> tuple[Button, ...]:
    """Buttons as stored in an outbound message's ``meta["buttons"]``: ``{"id", "title"}``
    objects (the bot's) or plain labels (an agent's, where the id is the label). Entries
    that are neither are skipped."""
    buttons: list[Button] = []
    for item in value if isinstance(value, list | tuple) else []:
        if isinstance(item, str) and item.strip():
            buttons.append(Button(item, item))
        elif isinstance(item, dict):
            title = item.get("title")
            ident = item.get("id", title)
            if isinstance(title, str) and title.strip() and isinstance(ident, str | int):
                buttons.append(Button(str(ident), title))
    return tuple(buttons)


def text_with_choices(text: str, buttons: Iterable[Button]) -> str:
    """The text with the choices as numbered lines, for a channel (or a message) that cannot
    show buttons. Unchanged when the text already names every choice (the bot writes its
    own numbered choices when the channel has no buttons)."""
    choices = list(buttons)
    if not choices or all(button.title in text for button in choices):
        return text
    lines = "\n".join(f"{number}. {button.title}" for number, button in enumerate(choices, 1))
    return f"{text}\n\n{lines}" if text else lines


@dataclass(frozen=True)
class Attachment:
    """A file to send with a reply, by public URL (the provider fetches it)."""

    url: str
    content_type: str | None = None
    filename: str | None = None


def attachments_from_meta(value: Any) -> tuple[Attachment, ...]:
    """``meta["attachments"]`` of an outbound message: ``{"url", "content_type",
    "filename"}`` objects with an http(s) URL; anything else is skipped."""
    found: list[Attachment] = []
    for item in value if isinstance(value, list | tuple) else []:
        url = item.get("url") if isinstance(item, dict) else None
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            kind, name = item.get("content_type"), item.get("filename")
            found.append(
                Attachment(
                    url,
                    kind if isinstance(kind, str) else None,
                    name if isinstance(name, str) else None,
                )
            )
    return tuple(found)


def text_with_links(text: str, attachments: Iterable[Attachment]) -> str:
    """For channels that cannot attach files: the files as links under the text."""
    lines = [f"{item.filename or 'Attachment'}: {item.url}" for item in attachments]
    if not lines:
        return text
    return f"{text}\n\n" + "\n".join(lines) if text else "\n".join(lines)
