import pickle
import time

import pytest

from relaydesk.bot.nlu import NluModel

PARSE_KEYS = {
    "language",
    "intent",
    "confidence",
    "entities",
    "human_request",
    "out_of_scope",
    "sentiment",
}


def test_parse_returns_exactly_the_api_shape(model):
    body = model.parse("Where is my order #48213?", language="en").as_dict()
    assert set(body) == PARSE_KEYS
    assert body["language"] == "en"
    assert body["intent"] == "order_status"
    assert 0.0 <= body["confidence"] <= 1.0
    assert body["entities"] == [{"type": "order_number", "value": "48213", "start": 19, "end": 24}]
    assert body["human_request"] is False and body["out_of_scope"] is False
    assert set(body["sentiment"]) == {"score", "label", "frustrated", "signals"}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hej hej", "greeting"),
        ("gdzie jest moja paczka?", "order_status"),
        ("berapa ongkir ke Surabaya", "delivery"),
        ("jag vill returnera skorna", "returns_refunds"),
        ("I was charged twice for one order", "billing"),
        ("nie mogę się zalogować", "account_access"),
        ("tolong ganti alamat pengiriman saya", "change_address"),
        ("säg upp mitt abonnemang", "cancel_subscription"),
        ("is this jacket available in XL", "product_question"),
        ("jestem bardzo niezadowolony z obsługi", "complaint"),
        ("aplikasinya error terus", "technical_problem"),
        ("thanks, bye", "goodbye"),
    ],
)
def test_pack_intents(model, text, intent):
    assert model.parse(text).intent == intent


def test_human_request_flag_and_intent(model):
    result = model.parse("chcę rozmawiać z konsultantem")
    assert result.human_request and result.intent == "human_request"
    assert result.language == "pl"


def test_human_request_keeps_a_topic_intent(model, monkeypatch):
    monkeypatch.setattr(model, "classify", lambda text: ("order_status", 0.8, False))
    result = model.parse("my order never arrived, let me talk to a human")
    assert result.human_request and result.intent == "order_status"
    monkeypatch.setattr(model, "classify", lambda text: ("greeting", 0.8, False))
    result = model.parse("hi, let me talk to a human")
    assert result.human_request and result.intent == "human_request"


def test_out_of_scope_says_i_dont_know(model):
    result = model.parse("who won the football match yesterday?")
    assert result.out_of_scope and result.intent is None


def test_previous_messages_feed_frustration(model):
    result = model.parse("where is my order", previous=["where is my order", "where is my order?"])
    assert result.sentiment["frustrated"] and "repeated_message" in result.sentiment["signals"]


def test_model_is_picklable_and_gives_the_same_answers(model):
    clone = pickle.loads(pickle.dumps(model))
    for text in ["gdzie jest moja paczka?", "agent", "tell me a joke"]:
        assert clone.parse(text) == model.parse(text)


def test_training_the_default_pack_takes_seconds(pack):
    import relaydesk.bot.embeddings  # noqa: F401 - scikit-learn's import is not training

    started = time.perf_counter()
    NluModel.from_pack(pack)
    assert time.perf_counter() - started < 15  # about 2-4 s on the reference machine


def test_personal_data_is_redacted_before_training():
    examples = {
        "billing": {"en": ["card 4111 1111 1111 1111 was charged", "mail jan@example.com a bill"]},
        "greeting": {"en": ["hello", "hi there"]},
    }
    model = NluModel.train(examples)
    vocab = " ".join(
        term for _, vec in model.classifier.features.transformer_list for term in vec.vocabulary_
    )
    assert "4111" not in vocab and "example" not in vocab and "jan" not in vocab
    assert "<card>" in vocab or "card>" in vocab


def test_classify_batch_agrees_with_classify(model):
    texts = ["where is my parcel", "tell me a joke", "reset my password"]
    assert model.classify_batch(texts) == [model.classify(t) for t in texts]


def test_training_needs_two_labels():
    with pytest.raises(ValueError):
        NluModel.train({"only": {"en": ["a", "b"]}})


def test_fast_single_text_path_equals_sklearn(model):
    import numpy as np

    texts = ["gdzie jest moje zamówienie #12345?", "ok", "qqq zzz", "Rp 150.000 ditagih dua kali"]
    for text in texts:
        fast = model.classifier.proba_one(text)
        slow = model.classifier.predict_proba([text])[0]
        assert np.allclose(fast, slow, atol=1e-12), text


def test_a_long_message_is_read_in_bounded_parts(model):
    """A 40 KB "word" or a long email is understood from its start; an ask for a person or an
    order number further in (within 8,000 characters) still counts; beyond that, not."""
    story = "we ordered it last spring and nothing happened since. " * 40  # 2,200 characters
    parsed = model.parse("x" * 40_000 + " " + story + "Order #48213. Can I talk to a person?")
    assert parsed.human_request
    assert any("48213" in str(e["value"]) for e in parsed.entities)
    far = model.parse(story * 4 + "Can I talk to a person?")  # after 8,800 characters
    assert not far.human_request


def test_a_repeated_parse_is_remembered_and_callers_cannot_change_it(model, monkeypatch):
    """Routing and the bot parse the same message one after the other: once is enough."""
    text = "My order #48213 never arrived, I want a refund of 20 EUR"
    first = model.parse(text, language="en", previous=["hello"])
    calls = []
    original = model._parse
    monkeypatch.setattr(
        model, "_parse", lambda *args: calls.append(args) or original(*args), raising=False
    )
    again = model.parse(text, language="en", previous=["hello"])
    assert again == first and calls == []
    again.entities.clear()
    again.sentiment.clear()
    assert model.parse(text, language="en", previous=["hello"]) == first
    assert first.entities and first.sentiment  # the remembered one is untouched
    other_context = model.parse(text, language="en", previous=["hello", "anyone?"])
    assert len(calls) == 1  # other earlier messages: parsed again
    assert other_context.intent == first.intent


def test_remembered_parses_are_bounded_and_not_pickled(model):
    from relaydesk.bot import nlu

    for n in range(nlu.PARSES_KEPT + 20):
        model.parse(f"where is order {n}")
    assert len(model._parses) == nlu.PARSES_KEPT
    clone = pickle.loads(pickle.dumps(model))
    assert len(clone._parses) == 0
    assert clone.parse("where is order 3") == model.parse("where is order 3")
