"""The out-of-scope detector: top probability averaged with the similarity to the nearest
training example of the predicted intent."""

from __future__ import annotations

import numpy as np
import pytest

from relaydesk.bot.classifier import Neighbours, TextClassifier, in_scope_score
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.text import normalise_for_model

EXAMPLES = {
    "card_lost": {"en": ["I lost my card", "my card is lost", "card went missing yesterday"]},
    "card_arrival": {"en": ["when will my card arrive", "card not delivered yet", "card post"]},
    "top_up": {"en": ["how do I top up", "add money to my account", "top up by bank transfer"]},
}


@pytest.fixture(scope="module")
def small() -> NluModel:
    return NluModel.train(EXAMPLES, out_of_scope_threshold=0.0)


def test_nearest_is_the_cosine_to_the_closest_example_of_the_label() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    labels = np.array(["a", "a", "b"])
    neighbours = Neighbours(vectors, labels, ["a", "b"])
    query = np.array([[1.0, 1.0], [2.0, 0.0]])
    got = neighbours.nearest(query, np.array([0, 1]))
    assert got == pytest.approx([np.sqrt(0.5), np.sqrt(0.5)])
    assert neighbours.nearest_one(np.array([2.0, 0.0]), 0) == pytest.approx(1.0)
    assert neighbours.nearest_one(np.zeros(2), 0) == 0.0  # an empty text is near nothing


def test_score_is_probability_and_similarity_averaged(small: NluModel) -> None:
    clf = small.classifier
    assert isinstance(clf, TextClassifier)
    text = "my card got lost on holiday"
    probs, score = clf.scored_one(text)
    top = int(probs.argmax())
    rows = [t for t, y in zip(*_flat(), strict=True) if y == clf.labels[top]]
    x = clf.features.transform([normalise_for_model(t) for t in [text, *rows]]).toarray()
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    similarity = float((x[1:] @ x[0]).max())
    assert score == pytest.approx(in_scope_score(probs[top], similarity, clf.neighbour_weight))
    assert 0.0 < similarity < 1.0


def test_training_examples_are_nearest_to_themselves(small: NluModel) -> None:
    probs, scores = small.classifier.scored(["I lost my card", "how do I top up"])
    assert (scores > probs.max(axis=1)).all()  # similarity 1.0 lifts the score
    assert small.classifier.scored_one("I lost my card")[1] == pytest.approx(scores[0])


def test_the_threshold_applies_to_the_score_and_confidence_stays_the_probability(
    small: NluModel,
) -> None:
    text = "my card got lost on holiday"
    probs, score = small.classifier.scored_one(text)
    small.out_of_scope_threshold = score - 1e-6
    intent, confidence, oos = small.classify(text)
    assert (intent, oos) == ("card_lost", False) and confidence == round(float(probs.max()), 4)
    small.out_of_scope_threshold = score + 1e-6
    assert small.classify(text) == (None, confidence, True)
    assert small.classify_batch([text]) == [(None, confidence, True)]
    small.out_of_scope_threshold = 0.0


def test_the_default_pack_rejects_off_topic_messages_and_keeps_its_own(model: NluModel) -> None:
    for text in ("what's the capital of Australia", "recommend me a good film tonight"):
        assert model.parse(text, language="en").out_of_scope, text
    for text in ("where is my parcel", "jag vill säga upp mitt abonnemang"):
        assert not model.parse(text).out_of_scope, text


def _flat() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for intent, per_lang in EXAMPLES.items():
        for items in per_lang.values():
            texts += items
            labels += [intent] * len(items)
    return texts, labels


@pytest.mark.parametrize(
    "text", ["x" * 2000, "xxxxx", "مرحبا، أين طلبي؟", "你好\uff0c我的订单在哪里\uff1f"]
)
def test_a_text_sharing_no_word_or_trigram_with_the_examples_is_out_of_scope(
    model: NluModel, text: str
) -> None:
    """Only spaces, single letters or pairs in common: the probabilities are about the
    intercepts, so the bot says it does not know instead of guessing "goodbye"."""
    parsed = model.parse(text)
    assert parsed.out_of_scope and parsed.intent is None
    assert model.classify_batch([text]) == [model.classify(text)]


@pytest.mark.parametrize("text", ["👍", "k", "jo", "#12345", ":)"])
def test_too_few_letters_to_share_a_trigram_are_left_to_the_classifier(
    model: NluModel, text: str
) -> None:
    """The rule needs three letters: an emoji, "k" or an order number are judged as before."""
    assert model.classify(text) == model.classify_batch([text])[0]
    from relaydesk.bot.classifier import _wordy

    assert not _wordy(text)
