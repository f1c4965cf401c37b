"""The widget's frame protocol: JSON text frames, validated here (see docs/channels/webchat.md).

Client → hub: hello/resume, message, email, verify, receipt, typing, ping.
Hub → client: welcome, history, message, ack, email_status, typing, error, pong.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_FRAME_BYTES = 16 * 1024
"""Larger frames close the socket with 1009 (message too big)."""
HISTORY_LIMIT = 200
CLIENT_MSG_ID = r"^[A-Za-z0-9_-]{1,64}$"


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hello(_Frame):
    """The first frame. With a token it resumes that visitor's conversation."""

    type: Literal["hello", "resume"]
    token: Annotated[str, Field(max_length=512)] | None = None


class MessageMeta(_Frame):
    human_request: bool = False
    """Set by the "Talk to a person" control: the visitor asks for a person."""
    button: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    """The id of the reply button pressed (the text is its title)."""


class ChatMessage(_Frame):
    type: Literal["message"]
    client_msg_id: Annotated[str, Field(pattern=CLIENT_MSG_ID)]
    text: str
    meta: MessageMeta = MessageMeta()


class Email(_Frame):
    type: Literal["email"]
    address: Annotated[str, Field(min_length=3, max_length=320)]


class Verify(_Frame):
    type: Literal["verify"]
    code: Annotated[str, Field(max_length=20)]


class Receipt(_Frame):
    type: Literal["receipt"]
    status: Literal["delivered", "read"]
    ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=100)]


class Typing(_Frame):
    type: Literal["typing"]
    on: bool = True


class Ping(_Frame):
    type: Literal["ping"]


ClientFrame = Annotated[
    Hello | ChatMessage | Email | Verify | Receipt | Typing | Ping,
    Field(discriminator="type"),
]
_client_frame: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


class FrameError(ValueError):
    """A frame the hub cannot use; answered with an ``error`` frame naming the problem."""

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra

    def frame(self) -> dict[str, Any]:
        return error_frame(self.code, self.detail, **self.extra)


def error_frame(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail, **extra}


def parse_frame(raw: str) -> ClientFrame:
    """Parse one text frame; raises FrameError with the offending field."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise FrameError("bad_frame", "a frame is one JSON object") from None
    if not isinstance(data, dict):
        raise FrameError("bad_frame", "a frame is one JSON object")
    extra: dict[str, Any] = {}
    if isinstance(data.get("client_msg_id"), str) and len(data["client_msg_id"]) <= 64:
        extra["client_msg_id"] = data["client_msg_id"]
    try:
        return _client_frame.validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "type"
        if first["type"] == "union_tag_invalid" or first["type"] == "union_tag_not_found":
            raise FrameError(
                "unknown_type", f"unknown frame type {data.get('type')!r}", **extra
            ) from None
        raise FrameError("bad_frame", f"{where}: {first['msg']}", field=where, **extra) from None
