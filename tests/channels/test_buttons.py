"""Buttons on replies: which channels show them, how ``meta["buttons"]`` is read, and the
numbered lines channels without buttons get (never twice when the bot already wrote them)."""

from __future__ import annotations

import pytest

from relaydesk.channels.content import (
    Button,
    buttons_from_meta,
    human_request,
    is_human_control,
    text_with_choices,
)
from relaydesk.channels.registry import KINDS

SHOW_BUTTONS = {"api", "webchat", "telegram", "messenger", "instagram", "whatsapp_cloud"}


def test_which_channels_show_buttons() -> None:
    assert {kind for kind, cls in KINDS.items() if cls.supports_buttons} == SHOW_BUTTONS
    for kind, cls in KINDS.items():
        assert cls.supports_buttons == cls.capabilities.buttons, kind
    assert KINDS["whatsapp_cloud"].max_buttons == 3
    assert KINDS["messenger"].max_buttons == KINDS["instagram"].max_buttons == 13
    assert not KINDS["twilio_voice"].takes_written_replies
    assert all(cls.takes_written_replies for kind, cls in KINDS.items() if kind != "twilio_voice")


def test_buttons_from_meta_reads_the_bots_and_an_agents_shape() -> None:
    bot = [{"id": "track", "title": "Track it"}, {"id": 7, "title": "Seven"}]
    assert buttons_from_meta(bot) == (Button("track", "Track it"), Button("7", "Seven"))
    assert buttons_from_meta(["Thanks", "Track it"]) == (
        Button("Thanks", "Thanks"),
        Button("Track it", "Track it"),
    )
    assert buttons_from_meta([{"title": "No id"}]) == (Button("No id", "No id"),)
    broken = [{"id": "x"}, {"id": "y", "title": ""}, 3, None, "  ", {"id": ["z"], "title": "Z"}]
    assert buttons_from_meta(broken) == ()
    assert buttons_from_meta(None) == buttons_from_meta("Track it") == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pick one", "Pick one\n\n1. Refund\n2. Exchange"),
        ("Pick one:\n1. Refund\n2. Exchange", "Pick one:\n1. Refund\n2. Exchange"),
        (  # "Refund" is named, "Exchange" is not
            "Refund or exchange?",
            "Refund or exchange?\n\n1. Refund\n2. Exchange",
        ),
        ("", "1. Refund\n2. Exchange"),
    ],
)
def test_numbered_lines_only_when_the_text_lacks_the_choices(text: str, expected: str) -> None:
    choices = (Button("r", "Refund"), Button("e", "Exchange"))
    assert text_with_choices(text, choices) == expected
    assert text_with_choices(text, ()) == text


def test_the_human_request_contract() -> None:
    assert human_request("postback") == {"requests_human": True, "control": "postback"}
    assert human_request("ivr_key", key="0") == {
        "key": "0",
        "requests_human": True,
        "control": "ivr_key",
    }
    for value in ("HUMAN_AGENT", "human", " Talk_To_Person "):
        assert is_human_control(value)
    assert is_human_control("ESCALATE", ["escalate"])
    for value in ("", None, 1, "HUMANS", "agent please", "GET_STARTED"):
        assert not is_human_control(value)
