from pathlib import Path

import pytest
import yaml

from relaydesk.bot import datasets
from relaydesk.bot.pack import DEFAULT_PACK_DIR, PackError, load_pack
from relaydesk.bot.text import normalise_for_model

INTENTS = {
    "greeting",
    "order_status",
    "delivery",
    "returns_refunds",
    "billing",
    "account_access",
    "change_address",
    "cancel_subscription",
    "product_question",
    "complaint",
    "technical_problem",
    "human_request",
    "goodbye",
}
PACK_LANGUAGES = ("en", "id", "sv", "pl")
DATA = Path(__file__).parent / "data"


def test_default_pack_has_the_thirteen_intents_with_metadata(pack):
    assert set(pack.intents) == INTENTS
    assert pack.intents["order_status"].required_facts == ("order_number",)
    assert pack.intents["cancel_subscription"].signals == {"churn_risk"}
    assert "complaint" in pack.intents["complaint"].signals
    assert "purchase_intent" in pack.intents["product_question"].signals
    assert not pack.intents["human_request"].bot_may_resolve
    slugs = {a.slug for a in pack.articles}
    for spec in pack.intents.values():
        assert spec.article is None or spec.article in slugs


def test_training_examples_per_intent_and_language(pack):
    for intent, per_lang in pack.examples.items():
        for lang in PACK_LANGUAGES:
            assert len(per_lang.get(lang, [])) >= 30, (intent, lang)
        assert {"de", "es", "fr", "nl", "pt", "it"} <= set(per_lang), intent


def test_missing_facts_asks_only_for_what_is_unknown(pack):
    assert [f.id for f in pack.missing_facts("order_status", {})] == ["order_number"]
    assert pack.missing_facts("order_status", {"order_number": "12345"}) == []
    assert pack.missing_facts("greeting", {}) == []
    assert pack.missing_facts("no_such_intent", {}) == []
    assert pack.facts["order_number"].prompt_for("pl").startswith("Jaki")
    assert pack.facts["order_number"].prompt_for("de").startswith("What")


def test_article_for_intent(pack):
    article = pack.article_for("returns_refunds")
    assert article is not None and {"en", "id", "sv", "pl"} <= set(article.variants)
    assert pack.article_for("greeting") is None


def test_heldout_set_size_and_no_overlap_with_training(pack):
    heldout = datasets.read_heldout(DATA)
    training = {
        normalise_for_model(t)
        for per_lang in pack.examples.values()
        for texts in per_lang.values()
        for t in texts
    }
    counts: dict[tuple[str, str], int] = {}
    for x in heldout:
        counts[(x.label, x.language)] = counts.get((x.label, x.language), 0) + 1
        assert normalise_for_model(x.text) not in training, x.text
    for intent in INTENTS:
        for lang in PACK_LANGUAGES:
            assert counts.get((intent, lang), 0) >= 30, (intent, lang)
    assert len({normalise_for_model(x.text) for x in heldout}) == len(heldout)


def _copy_pack(tmp_path: Path) -> Path:
    for src in DEFAULT_PACK_DIR.glob("*.yaml"):
        (tmp_path / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


def test_unknown_fact_is_a_clear_error(tmp_path):
    root = _copy_pack(tmp_path)
    meta = yaml.safe_load((root / "pack.yaml").read_text(encoding="utf-8"))
    meta["intents"]["billing"]["required_facts"] = ["iban"]
    (root / "pack.yaml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    with pytest.raises(PackError, match=r"intents\.billing\.required_facts"):
        load_pack(root)


def test_examples_for_an_undeclared_intent_are_rejected(tmp_path):
    root = _copy_pack(tmp_path)
    (root / "sv.yaml").write_text("language: sv\nintents:\n  weather: [hur blir vädret]\n")
    with pytest.raises(PackError, match=r"sv\.yaml: intents\.weather"):
        load_pack(root)


def test_bad_yaml_names_the_file(tmp_path):
    root = _copy_pack(tmp_path)
    (root / "pack.yaml").write_text("intents: [unclosed\n")
    with pytest.raises(PackError, match=r"pack\.yaml"):
        load_pack(root)
