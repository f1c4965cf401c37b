"""The dialogue policy, pure: buttons or numbered choices, state, and the texts file."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from tests.helpers.bot_chat import BUTTONS, PLAIN, Chat, kit, text_of, texts

from relaydesk.bot.dialogue import ChannelTraits, DialogueKit, DialogueState, DialogueTexts, respond
from relaydesk.bot.dialogue.policy import PERSON_BUTTON_ID
from relaydesk.bot.dialogue.texts import LABEL_KEYS, TEXT_KEYS
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import Pack, PackError
from relaydesk.bot.turn import analyse_turn
from relaydesk.channels.base import Capabilities
from relaydesk.channels.content import HUMAN_CONTROL_IDS

__all__ = ["kit", "texts"]  # fixtures shared with the helper

# --- buttons or numbered choices ----------------------------------------------------------


def test_buttons_where_the_channel_has_them(model: NluModel, kit: DialogueKit) -> None:
    turn = Chat(model, kit, channel=BUTTONS).say("how long does delivery take?")
    [reply] = turn.replies
    assert reply.buttons == ("Yes", "No", "Talk to a person")
    assert reply.button_ids == ("yes", "no", PERSON_BUTTON_ID)
    assert PERSON_BUTTON_ID in HUMAN_CONTROL_IDS  # adapters mark its press requests_human
    assert "1. Yes" not in reply.text


@pytest.mark.parametrize(
    ("payload", "action"), [("yes", "resolve"), ("YES", "resolve"), ("no", "continue")]
)
def test_a_pressed_button_is_read_by_its_id_whatever_the_text(
    model: NluModel, kit: DialogueKit, payload: str, action: str
) -> None:
    chat = Chat(model, kit)
    chat.say("where is my order #48213?")
    analysis = analyse_turn(model, kit.pack, kit.kb, "👍", language="en")
    turn = respond(
        chat.state, analysis, "👍", kit=kit, channel=BUTTONS, payload=payload, now=chat.now
    )
    assert turn.action == action
    unknown = respond(
        chat.state, analysis, "👍", kit=kit, channel=BUTTONS, payload="BUY_NOW", now=chat.now
    )
    assert unknown.action == "continue" and not unknown.resolves


@pytest.mark.parametrize(
    ("answer", "action", "reason"),
    [("1", "resolve", None), ("2.", "continue", None), ("3", "handoff", "human_request")],
)
def test_numbered_choices_where_it_does_not(
    model: NluModel, kit: DialogueKit, answer: str, action: str, reason: str | None
) -> None:
    chat = Chat(model, kit, channel=PLAIN)
    turn = chat.say("how long does delivery take?")
    [reply] = turn.replies
    assert reply.buttons == ()
    assert reply.text.endswith("Reply with a number:\n1. Yes\n2. No\n3. Talk to a person")
    picked = chat.say(answer)
    assert (picked.action, picked.reason) == (action, reason)


def test_numbers_out_of_range_are_not_choices(model: NluModel, kit: DialogueKit) -> None:
    chat = Chat(model, kit, channel=PLAIN)
    chat.say("how long does delivery take?")
    turn = chat.say("7")
    assert turn.action == "continue" and turn.state.awaiting == "rephrase"
    assert text_of(turn).startswith(kit.texts.for_language("en").text("not_understood"))


@pytest.mark.parametrize(("label", "action"), [("Tak", "resolve"), ("Talk to a person", "handoff")])
def test_a_tapped_button_comes_back_as_its_label(
    model: NluModel, kit: DialogueKit, label: str, action: str
) -> None:
    chat = Chat(model, kit)
    chat.say("gdzie jest moje zamówienie #48213?")
    assert chat.say(label).action == action


def test_replies_fit_the_channel_and_keep_the_link(model: NluModel, kit: DialogueKit) -> None:
    sms = ChannelTraits(buttons=False, max_text_length=200)
    turn = Chat(model, kit, channel=sms).say("how long does delivery take?")
    [reply] = turn.replies
    assert len(reply.text) <= 200
    assert "https://shop.example/help/delivery-options?lang=en" in reply.text
    assert "…" in reply.text and reply.text.endswith("3. Talk to a person")


def test_channel_traits_from_an_adapter_class() -> None:
    class Old:
        capabilities = Capabilities(buttons=True, max_text_length=1600)

    class New(Old):
        supports_buttons: ClassVar[bool] = False

    class Call:
        capabilities = Capabilities(channel_class="voice")

    class Phone(Old):
        takes_written_replies: ClassVar[bool] = False

    assert ChannelTraits.of(Old) == ChannelTraits(True, 1600)
    assert ChannelTraits.of(New) == ChannelTraits(False, 1600)
    assert ChannelTraits.of(object) == ChannelTraits(False, None)
    assert ChannelTraits.of(Call) == ChannelTraits(False, None, written=False)
    assert ChannelTraits.of(Phone) == ChannelTraits(True, 1600, written=False)


# --- state and texts ------------------------------------------------------------------------


def test_state_survives_a_round_trip_through_json(model: NluModel, kit: DialogueKit) -> None:
    chat = Chat(model, kit)
    chat.say("where is my order?")
    raw = json.loads(json.dumps(chat.state.as_dict()))
    assert DialogueState.from_dict(raw) == chat.state
    assert DialogueState.from_dict(None) == DialogueState()
    assert DialogueState.from_dict({"turns": 3, "unknown": 1}).turns == 3


def test_every_fact_is_asked_in_every_pack_language(pack: Pack, kit: DialogueKit) -> None:
    english = {fid: fact.prompt["en"] for fid, fact in pack.facts.items()}
    for language in pack.languages:
        for fid, fact in pack.facts.items():
            prompt = kit.fact_prompt(fact, language)
            assert prompt and (language == "en" or prompt != english[fid]), (language, fid)
    order = pack.facts["order_number"]
    assert kit.fact_prompt(order, "de").startswith("Wie lautet Ihre Bestellnummer")
    assert kit.fact_prompt(order, "pl") == order.prompt["pl"]  # the pack's own wins
    assert kit.fact_prompt(order, "xx") == order.prompt["en"]


def test_every_pack_language_has_every_text(pack: Pack, texts: DialogueTexts) -> None:
    assert set(pack.languages) <= set(texts.languages)
    for language, phrases in texts.languages.items():
        assert set(phrases.texts) == set(TEXT_KEYS), language
        assert set(phrases.labels) == set(LABEL_KEYS), language
        assert phrases.affirm and phrases.deny, language
        assert "{prompt}" in phrases.text("handoff_wait_fact")
        assert "{link}" in phrases.text("answer")


def _texts(**override: Any) -> dict[str, Any]:
    english: dict[str, Any] = {key: f"{key} text" for key in TEXT_KEYS}
    english["labels"] = {key: key for key in LABEL_KEYS}
    english["affirm"], english["deny"] = ["yes"], ["no"]
    english.update(override)
    return {"languages": {"en": english}}


def test_texts_that_miss_a_string_or_use_yaml_booleans_are_refused() -> None:
    assert DialogueTexts.from_mapping(_texts(), "t.yaml").for_language("xx").language == "en"
    with pytest.raises(PackError, match=r"t.yaml: languages.en: missing text\(s\) \['confirm'\]"):
        DialogueTexts.from_mapping(_texts(confirm=""), "t.yaml")
    with pytest.raises(PackError, match="quote yes/no"):
        DialogueTexts.from_mapping(_texts(deny=[False]), "t.yaml")
    with pytest.raises(PackError, match=r"labels\.person"):
        DialogueTexts.from_mapping(_texts(labels={"confirm_yes": "Yes"}), "t.yaml")
    with pytest.raises(PackError, match=r"languages\.en\.facts"):
        DialogueTexts.from_mapping(_texts(facts={"email": ""}), "t.yaml")
    with pytest.raises(PackError, match="article_path"):
        DialogueTexts.from_mapping({**_texts(), "article_path": "/help"}, "t.yaml")
