"""The dialogue policy, pure: handoff, facts and confirmation, with the real default-pack
model and texts (choices, buttons and texts: test_dialogue_choices.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.helpers.bot_chat import PLAIN, Chat, kit, text_of, texts

from relaydesk.bot.dialogue import DialogueKit
from relaydesk.bot.nlu import NluModel

__all__ = ["kit", "texts"]  # fixtures shared with the helper

# --- handoff, always honoured ------------------------------------------------------------


HUMAN_REQUESTS = [
    ("en", "I want to talk to a real person"),
    ("en", "agent"),
    ("en", "i wnat to tlak to an agnet"),
    ("id", "saya mau bicara dengan orang"),
    ("sv", "jag vill prata med en människa"),
    ("pl", "chcę rozmawiać z konsultantem"),
    ("de", "ich möchte mit einem Mitarbeiter sprechen"),
    ("es", "quiero hablar con una persona"),
    ("fr", "je veux parler à un conseiller"),
    ("nl", "ik wil een medewerker spreken"),
    ("pt", "quero falar com um atendente"),
    ("it", "voglio parlare con un operatore"),
]


@pytest.mark.parametrize(("language", "text"), HUMAN_REQUESTS)
def test_a_request_for_a_person_hands_off_on_the_first_ask(
    model: NluModel, kit: DialogueKit, language: str, text: str
) -> None:
    turn = Chat(model, kit).say(text)
    assert turn.hands_off and turn.reason == "human_request"
    assert text_of(turn) == kit.texts.for_language(language).text("handoff")
    assert turn.state.language == language
    assert turn.replies[0].buttons == ()  # no "are you sure?"


@pytest.mark.parametrize(("language", "text"), HUMAN_REQUESTS[3:9])
def test_a_request_for_a_person_mid_conversation_asks_the_missing_fact_while_waiting(
    model: NluModel, kit: DialogueKit, language: str, text: str
) -> None:
    chat = Chat(model, kit)
    first = {
        "id": "pesanan saya di mana?",
        "sv": "var är min beställning?",
        "pl": "gdzie jest moje zamówienie?",
        "de": "wo ist meine Bestellung?",
        "es": "¿dónde está mi pedido?",
        "fr": "où est ma commande ?",
    }[language]
    asked = chat.say(first)
    assert asked.state.awaiting == "fact" and asked.state.awaiting_fact == "order_number"
    turn = chat.say(text)
    assert turn.hands_off and turn.reason == "human_request"
    assert turn.missing_facts == ("order_number",)
    prompt = kit.fact_prompt(kit.pack.facts["order_number"], language)
    assert text_of(turn).endswith(prompt)
    assert turn.state.intent == "order_status"  # the topic travels with the handoff


def test_a_channel_control_hands_off_whatever_the_words(model: NluModel, kit: DialogueKit) -> None:
    chat = Chat(model, kit)
    chat.say("where is my order #48213?")
    turn = chat.say("[Talk to a person]", requests_human=True)
    assert turn.hands_off and turn.reason == "human_request"
    assert turn.missing_facts == ()
    assert text_of(turn) == kit.texts.for_language("en").text("handoff")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("what's the weather like tomorrow?", "tell me a joke"),
        ("jaka będzie jutro pogoda?", "opowiedz dowcip"),
    ],
)
def test_out_of_scope_twice_in_a_row_hands_off(
    model: NluModel, kit: DialogueKit, first: str, second: str
) -> None:
    chat = Chat(model, kit)
    once = chat.say(first)
    assert once.action == "continue" and once.state.out_of_scope_streak == 1
    assert text_of(once) == kit.texts.for_language(once.state.language).text("not_understood")
    assert once.replies[0].buttons == (
        kit.texts.for_language(once.state.language).labels["person"],
    )
    twice = chat.say(second)
    assert twice.hands_off and twice.reason == "out_of_scope"


def test_an_understood_message_resets_the_out_of_scope_streak(
    model: NluModel, kit: DialogueKit
) -> None:
    chat = Chat(model, kit)
    chat.say("tell me a joke")
    assert chat.say("how long does delivery take?").state.out_of_scope_streak == 0
    assert chat.say("what's the weather like tomorrow?").action == "continue"


@pytest.mark.parametrize(
    "text", ["THIS IS RIDICULOUS!!! worst service ever", "to jest skandal, najgorsza obsługa!!!"]
)
def test_frustration_hands_off(model: NluModel, kit: DialogueKit, text: str) -> None:
    turn = Chat(model, kit).say(text)
    assert turn.hands_off and turn.reason == "frustrated"


def test_the_same_message_three_times_is_frustration(model: NluModel, kit: DialogueKit) -> None:
    chat = Chat(model, kit)
    turns = [chat.say("my parcel has not arrived") for _ in range(3)]
    assert turns[-1].hands_off and turns[-1].reason == "frustrated"


def test_a_human_only_intent_hands_off_at_once_and_asks_what_the_person_needs(
    model: NluModel, kit: DialogueKit
) -> None:
    turn = Chat(model, kit).say("jag vill säga upp min prenumeration")
    assert turn.hands_off and turn.reason == "human_only_intent"
    assert turn.state.intent == "cancel_subscription"
    assert turn.missing_facts == ("email",)
    assert kit.fact_prompt(kit.pack.facts["email"], "sv") in text_of(turn)
    known = Chat(model, kit, known={"email": "kim@example.com"}).say(
        "I want to cancel my subscription"
    )
    assert known.hands_off and known.missing_facts == ()
    assert text_of(known) == kit.texts.for_language("en").text("handoff")


def test_talking_about_people_offers_a_person_instead_of_handing_off(
    model: NluModel, kit: DialogueKit
) -> None:
    chat = Chat(model, kit, channel=PLAIN)
    offer = chat.say("the person at the store told me to contact you")
    assert offer.action == "continue" and offer.state.awaiting == "offer_person"
    assert "1. Yes, connect me" in text_of(offer)
    turn = chat.say("1")
    assert turn.hands_off and turn.reason == "not_solved"


# --- facts: asked once, never when already known ------------------------------------------


@pytest.mark.parametrize(
    ("question", "known_from"),
    [("where is my order?", "web"), ("var är min beställning?", "sms"), ("gdzie paczka?", "chat")],
)
def test_a_fact_said_on_another_channel_is_not_asked_again(
    model: NluModel, kit: DialogueKit, question: str, known_from: str
) -> None:
    chat = Chat(model, kit, known={"order_number": "48213"})
    turn = chat.say(question)
    assert turn.state.awaiting == "confirm", known_from
    assert "order_number" not in turn.state.asked
    assert "/help/order-status" in text_of(turn)


@pytest.mark.parametrize(
    ("answer", "value"),
    [("48213", "48213"), ("ORD-2024-0117", "ORD-2024-0117"), ("it's #55123", "55123")],
)
def test_the_bot_asks_for_a_missing_fact_then_answers(
    model: NluModel, kit: DialogueKit, answer: str, value: str
) -> None:
    chat = Chat(model, kit)
    asked = chat.say("where is my order?")
    assert text_of(asked) == kit.pack.facts["order_number"].prompt_for("en")
    assert asked.state.awaiting_fact == "order_number" and asked.facts == {}
    answered = chat.say(answer)
    assert answered.facts == {"order_number": value}
    assert answered.state.awaiting == "confirm"
    assert answered.state.offered == ("order-status",)
    assert "https://shop.example/help/order-status?lang=en" in text_of(answered)
    assert text_of(answered).endswith(kit.texts.for_language("en").text("confirm"))


def test_a_fact_not_given_is_asked_twice_then_the_bot_answers_anyway(
    model: NluModel, kit: DialogueKit
) -> None:
    chat = Chat(model, kit)
    chat.say("where is my order?")
    again = chat.say("I don't know it")
    assert again.state.awaiting_fact == "order_number"
    assert text_of(again).startswith("Sorry, I couldn't find that")
    answered = chat.say("no idea, sorry")
    assert answered.state.awaiting == "confirm" and "order_number" not in chat.known


def test_the_customer_may_change_the_subject_instead_of_answering(
    model: NluModel, kit: DialogueKit
) -> None:
    chat = Chat(model, kit)
    chat.say("where is my order?")
    turn = chat.say("how long does delivery take?")
    assert turn.state.intent == "delivery" and turn.state.awaiting == "confirm"


# --- confirmation before resolving --------------------------------------------------------

QUESTIONS = {
    "en": "where is my order #48213?",
    "id": "pesanan saya #48213 di mana?",
    "sv": "var är min beställning #48213?",
    "pl": "gdzie jest moje zamówienie #48213?",
    "de": "wo ist meine Bestellung #48213?",
    "es": "¿dónde está mi pedido #48213?",
    "fr": "où est ma commande #48213 ?",
    "nl": "waar is mijn bestelling #48213?",
    "it": "dov'è il mio ordine #48213?",
}


@pytest.mark.parametrize(
    ("language", "answer"),
    [
        ("en", "yes thanks"),
        ("en", "Yep!"),
        ("en", "thank you"),
        ("id", "iya"),
        ("id", "sudah, makasih"),
        ("sv", "ja"),
        ("sv", "Ja tack!"),
        ("pl", "tak"),
        ("pl", "pomogło, dzięki"),
        ("de", "Ja, danke"),
        ("es", "sí"),
        ("fr", "oui merci"),
        ("nl", "ja hoor"),
        ("it", "sì, grazie"),
    ],
)
def test_yes_resolves_in_the_customers_language(
    model: NluModel, kit: DialogueKit, language: str, answer: str
) -> None:
    chat = Chat(model, kit)
    answered = chat.say(QUESTIONS[language])
    assert answered.state.awaiting == "confirm" and answered.state.language == language
    assert text_of(answered).endswith(kit.texts.for_language(language).text("confirm"))
    turn = chat.say(answer)
    assert turn.resolves
    assert text_of(turn) == kit.texts.for_language(language).text("resolved")
    assert turn.state.awaiting is None and turn.state.intent is None
    assert turn.state.offered == () and turn.state.turns == 2


@pytest.mark.parametrize(
    ("language", "answer"),
    [
        ("en", "no"),
        ("en", "nope, still nothing"),
        ("en", "no it didn't"),
        ("id", "tidak"),
        ("id", "tidka"),
        ("id", "belum"),
        ("sv", "nej"),
        ("pl", "nie pomogło"),
        ("de", "nein"),
        ("de", "nien"),
        ("es", "no funcionó"),
        ("fr", "non"),
    ],
)
def test_no_does_not_resolve_and_offers_a_person(
    model: NluModel, kit: DialogueKit, language: str, answer: str
) -> None:
    chat = Chat(model, kit)
    first = chat.say(QUESTIONS[language])
    phrases = kit.texts.for_language(language)
    for tried in range(len(first.state.alternatives) + 1):
        turn = chat.say(answer if tried == 0 else phrases.labels["confirm_no"])
        assert not turn.resolves and not turn.hands_off
        if turn.state.awaiting == "offer_person":
            break
        assert turn.state.awaiting == "confirm"  # another article first
        assert text_of(turn).startswith(phrases.text("try_next"))
    assert tried == len(first.state.alternatives)
    assert text_of(turn) == phrases.text("offer_person")
    assert turn.replies[0].buttons == (phrases.labels["connect"], phrases.labels["no_thanks"])


def test_no_tries_the_next_article_before_offering_a_person(
    model: NluModel, kit: DialogueKit
) -> None:
    chat = Chat(model, kit)
    first = chat.say("where is my order #48213?")
    assert first.state.offered == ("order-status",)
    assert first.state.alternatives == ("change-address",)
    second = chat.say("no")
    assert second.state.awaiting == "confirm"
    assert text_of(second).startswith(kit.texts.for_language("en").text("try_next"))
    assert "/help/change-address" in text_of(second)
    assert second.state.offered == ("order-status", "change-address")
    third = chat.say("no")
    assert third.state.awaiting == "offer_person"


def _until_offer(chat: Chat, question: str, no: str) -> None:
    chat.say(question)
    for _ in range(4):
        if chat.say(no).state.awaiting == "offer_person":
            return
    raise AssertionError("the bot never offered a person")


def test_declining_a_person_keeps_the_bot_talking(model: NluModel, kit: DialogueKit) -> None:
    chat = Chat(model, kit)
    _until_offer(chat, "where is my order #48213?", "no")
    turn = chat.say("no thanks")
    assert turn.action == "continue" and turn.state.awaiting is None
    assert text_of(turn) == kit.texts.for_language("en").text("carry_on")
    accept = Chat(model, kit)
    _until_offer(accept, "gdzie jest moje zamówienie #48213?", "nie")
    taken = accept.say("tak")
    assert taken.hands_off and taken.reason == "not_solved"


def test_a_yes_a_day_later_answers_nothing(model: NluModel, kit: DialogueKit) -> None:
    chat = Chat(model, kit)
    chat.say("where is my order #48213?")
    chat.now += timedelta(days=1)
    turn = chat.say("yes")
    assert not turn.resolves


def test_goodbye_after_an_answer_asks_whether_it_was_solved(
    model: NluModel, kit: DialogueKit
) -> None:
    greeting = Chat(model, kit).say("hej")
    assert text_of(greeting) == kit.texts.for_language("sv").text("greeting")
    assert greeting.action == "continue" and greeting.state.awaiting is None
    farewell = Chat(model, kit).say("thanks, bye")
    assert text_of(farewell) == kit.texts.for_language("en").text("farewell")
    assert farewell.action == "continue"  # nothing was solved, nothing is resolved
    chat = Chat(model, kit)
    chat.say("how long does delivery take?")
    chat.say("hi")
    confirm = chat.say("thanks, bye")
    assert text_of(confirm).startswith(kit.texts.for_language("en").text("confirm"))
    assert confirm.state.awaiting == "confirm"
    assert chat.say("yes").resolves
