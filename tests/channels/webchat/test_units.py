"""Pure parts of the web chat channel: settings, origins, tokens, frames, rate limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from relaydesk import clock
from relaydesk.bot.human_request import is_human_request
from relaydesk.channels.base import OutboundMessage, PermanentSendError
from relaydesk.channels.registry import adapter_class, build_adapter
from relaydesk.channels.webchat import tokens
from relaydesk.channels.webchat.adapter import (
    HUMAN_REQUEST_TEXT,
    WebchatChannel,
    WebchatConfig,
    normalize_origin,
)
from relaydesk.channels.webchat.limits import FrameBucket, MessageRateLimiter
from relaydesk.channels.webchat.protocol import ChatMessage, FrameError, Receipt, parse_frame
from relaydesk.workspace.file import WorkspaceFileError, parse_workspace

KEY = "k" * 40


def adapter(**settings: object) -> WebchatChannel:
    built = build_adapter("chat", "webchat", {"allowed_origins": ["https://shop.test"], **settings})
    assert isinstance(built, WebchatChannel)
    return built


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Shop.Example.com", "https://shop.example.com"),
        ("https://shop.example.com:443/", "https://shop.example.com"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_origins_are_normalised(raw: str, expected: str) -> None:
    assert normalize_origin(raw) == expected


@pytest.mark.parametrize(
    "raw", ["shop.example.com", "https://shop.example.com/path", "ftp://x.test", "*", "https://"]
)
def test_bad_origins_are_refused_when_the_workspace_is_applied(raw: str) -> None:
    text = (
        "channels:\n  - name: chat\n    kind: webchat\n"
        f"    settings: {{allowed_origins: ['{raw}']}}\n"
    )
    with pytest.raises(WorkspaceFileError) as error:
        parse_workspace(text, "ws.yaml")
    assert "allowed_origins" in str(error.value.lines())


def test_settings_have_limits() -> None:
    with pytest.raises(ValidationError):
        WebchatConfig.model_validate({"rate_limit": 0})
    with pytest.raises(ValidationError):
        WebchatConfig.model_validate({"color": "red"})
    with pytest.raises(ValidationError):
        WebchatConfig.model_validate({"unknown": 1})
    assert adapter_class("webchat") is WebchatChannel


def test_origin_check() -> None:
    chat = adapter()
    assert chat.origin_allowed("https://shop.test", "hub.test")
    assert chat.origin_allowed("https://SHOP.test:443", "hub.test")
    assert not chat.origin_allowed("https://evil.test", "hub.test")
    assert not chat.origin_allowed(None, "hub.test")
    assert not chat.origin_allowed("null", "hub.test")
    assert chat.origin_allowed("http://hub.test:8000", "hub.test:8000")  # the hub's own page
    assert chat.origin_allowed(
        "https://support.example.com", "10.0.0.5:8000", "https://support.example.com/desk"
    )


def test_inbound_translation_scopes_ids_by_visitor() -> None:
    message = adapter().inbound("v_" + "a" * 24, "m-1", "Hi", human_request=True)
    assert message.external_id == "v_" + "a" * 24 + ":m-1"
    [(identity, assurance)] = message.sender.identities
    assert (identity.kind, identity.scope, assurance) == ("handle", "chat", "provider")
    assert message.sender.claims == ()
    assert message.meta == {
        "human_request": True,
        "requests_human": True,
        "control": "talk_to_person",
    }
    assert message.reply_to == {"visitor": "v_" + "a" * 24}


def test_a_pressed_button_carries_its_id_and_a_person_button_is_a_request() -> None:
    visitor = "v_" + "b" * 24
    plain = adapter().inbound(visitor, "m-2", "Track it", button="track")
    assert plain.meta == {"payload": "track"}
    person = adapter().inbound(visitor, "m-3", "A person, please", button="HUMAN_AGENT")
    assert person.meta == {"payload": "HUMAN_AGENT", "requests_human": True, "control": "button"}
    assert adapter().inbound(visitor, "m-4", "Hi").meta == {}


def test_the_human_request_text_is_recognised_by_the_bot() -> None:
    assert is_human_request(HUMAN_REQUEST_TEXT)


async def test_send_accepts_for_live_delivery() -> None:
    chat = adapter()
    result = await chat.send(OutboundMessage("m-id", "hi", {"visitor": "v_x"}), None)  # type: ignore[arg-type]
    assert result.external_id == "m-id" and result.status == "sent"
    with pytest.raises(PermanentSendError):
        await chat.send(OutboundMessage("m-id", "hi", {}), None)  # type: ignore[arg-type]


def test_tokens_round_trip_and_expire(manual_clock: clock.ManualClock) -> None:
    visitor = tokens.new_visitor_id()
    token = tokens.issue(KEY, "chat", visitor)
    assert tokens.read(KEY, "chat", token) == visitor
    assert tokens.read(KEY, "other", token) is None
    assert tokens.read("x" * 40, "chat", token) is None
    assert tokens.read(KEY, "chat", token[:-2] + "xx") is None
    manual_clock.advance(tokens.MAX_AGE + timedelta(seconds=1))
    assert tokens.read(KEY, "chat", token) is None


def test_frames_are_validated() -> None:
    frame = parse_frame('{"type":"message","client_msg_id":"a1","text":"hi"}')
    assert isinstance(frame, ChatMessage) and frame.meta.human_request is False
    receipt = parse_frame('{"type":"receipt","status":"read","ids":["' + "0" * 32 + '"]}')
    assert isinstance(receipt, Receipt)
    for raw, code in [
        ("[]", "bad_frame"),
        ('{"type":"nope"}', "unknown_type"),
        ('{"text":"no type"}', "unknown_type"),
        ('{"type":"message","client_msg_id":"a","text":"x","extra":1}', "bad_frame"),
        ('{"type":"receipt","status":"seen","ids":[]}', "bad_frame"),
    ]:
        with pytest.raises(FrameError) as error:
            parse_frame(raw)
        assert error.value.code == code, raw


def test_message_rate_limit_slides(manual_clock: clock.ManualClock) -> None:
    limiter = MessageRateLimiter()
    assert [limiter.check("v", 3) for _ in range(3)] == [None, None, None]
    wait = limiter.check("v", 3)
    assert wait is not None and 59 <= wait <= 60
    assert limiter.check("w", 3) is None  # per visitor
    manual_clock.advance(timedelta(seconds=61))
    assert limiter.check("v", 3) is None


def test_frame_bucket(manual_clock: clock.ManualClock) -> None:
    bucket = FrameBucket(capacity=2, per_second=1)
    assert bucket.take() and bucket.take() and not bucket.take()
    assert bucket.refused == 1
    manual_clock.advance(timedelta(seconds=1))
    assert bucket.take()
