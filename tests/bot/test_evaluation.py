"""Every quality bar of the bot against the real data (the product's own pipeline)."""

from pathlib import Path

import pytest

from relaydesk.bot import evaluation

DATA = Path(__file__).parent / "data"


def test_pack_accuracy_per_language(model):
    result = evaluation.evaluate_pack(DATA, model)
    assert result["messages"] == {"en": 390, "id": 390, "pl": 390, "sv": 390}
    for lang, accuracy in result["accuracy"].items():
        assert accuracy >= 0.90, (lang, accuracy, result["top_confusions"])
    for lang, accuracy in result["language_detection_accuracy"].items():
        assert accuracy >= 0.97, (lang, accuracy)


def test_human_request_bars(data_dir, model):
    result = evaluation.evaluate_human_request(data_dir, DATA, model)
    assert result["positives"] >= 300 and result["negatives"] >= 1000
    assert result["recall"] >= 0.995, result["misses"]
    assert result["false_positive_rate"] <= 0.01, result["false_positives"]


@pytest.mark.slow
def test_banking77_accuracy(data_dir):
    assert evaluation.evaluate_banking77(data_dir)["accuracy"] >= 0.91


@pytest.mark.slow
def test_out_of_scope_holdout(data_dir):
    result = evaluation.evaluate_out_of_scope(data_dir)
    assert len(result["unknown_intents"]) == 19
    assert result["in_scope_accuracy"] >= 0.85
    # The aim is 85% recall; with the threshold chosen on validation folds that hold out
    # training intents, TF-IDF reaches about 70% at this in-scope accuracy on Banking77's
    # near-duplicate intents (see docs/bot.md). Guard against regressions.
    assert result["out_of_scope_recall"] >= 0.68
    assert result["validation_oos_recall"] >= 0.6
    baseline = result["max_probability_alone"]
    assert (
        0.0 < baseline["threshold"] < 1.0 and len(baseline["in_scope_accuracy_and_oos_recall"]) == 2
    )


@pytest.mark.slow
def test_run_all_reports_every_bar(data_dir):
    report = evaluation.run_all(data_dir, DATA)
    names = {b.name for b in report.bars}
    assert {"banking77_accuracy", "human_request_recall", "pack_accuracy_pl"} <= names
    failing = [b.name for b in report.bars if not b.passed]
    assert failing == ["oos_recall (aim)"], failing
