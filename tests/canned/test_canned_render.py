"""Filling canned replies' variables: known names only, braces escaped, missing values kept."""

from __future__ import annotations

import pytest

from relaydesk.canned.render import TemplateError, fill, pick_language, variables_in


def test_variables_in_order_of_first_use() -> None:
    text = "{agent.name} for {customer.first_name}; {agent.name} again, {{literal}}"
    assert variables_in(text) == ["agent.name", "customer.first_name"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hi {customer.nick}", "unknown variable {customer.nick}"),
        ("Hi {}", "unknown variable {}"),
        ("Hi {customer.first_name", "a lone '{'"),
        ("Hi customer}", "a lone '}'"),
        ("{order}", "unknown variable {order}"),
    ],
)
def test_unknown_variables_and_stray_braces_are_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match="^" + message.replace("{", r"\{").replace("}", r"\}")):
        variables_in(text)


def test_fill_replaces_values_as_plain_text_and_keeps_missing_ones() -> None:
    filled = fill(
        "Hi {customer.first_name}, order {journey.order_number} {{ok}} {journey.amount}",
        {"customer.first_name": "<b>Maja</b>", "journey.order_number": "{agent.name}"},
    )
    # a value is never read as a template itself, nor escaped here (the page escapes it)
    assert filled.text == "Hi <b>Maja</b>, order {agent.name} {ok} {journey.amount}"
    assert filled.missing == ("journey.amount",)


def test_fill_refuses_what_variables_in_refuses() -> None:
    with pytest.raises(TemplateError):
        fill("{customer.password}", {})


@pytest.mark.parametrize(
    ("wanted", "chosen"),
    [("sv-SE", "sv"), ("sv_SE", "sv"), ("SV", "sv"), ("pl", "en"), (None, "en")],
)
def test_pick_language(wanted: str | None, chosen: str) -> None:
    assert pick_language({"en": "a", "sv": "b"}, wanted) == chosen


def test_pick_language_without_english_takes_the_first() -> None:
    assert pick_language({"sv": "b", "de": "c"}, "fr") == "de"
    assert pick_language({}, "en") is None
