"""The quality bars of the bot, computed with the product's own NLU code.

`relaydesk bot eval` calls `run_all(data_dir, test_dir)`: Banking77 accuracy, out-of-scope
detection on held-out Banking77 intents, human-request recall and false-positive rate, the
default pack's accuracy per language, and language identification on short messages.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from relaydesk.bot import datasets
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import Pack, load_pack

PACK_LANGUAGES = ("en", "id", "sv", "pl")
# The out-of-scope threshold is chosen on validation splits of the *training* intents that
# hold out a quarter of them as unknown too (the test's unknown intents are never seen): the
# highest recall on the validation unknowns that keeps validation in-scope accuracy at the
# bar plus one point. A known-only dev split (the earlier method) has no unknowns to trade
# against and picked too low a threshold (62% recall).
OOS_DEV_TARGET = 0.86
OOS_VALIDATION_FOLDS = 3


@dataclass(frozen=True)
class Bar:
    name: str
    value: float
    target: float
    higher_is_better: bool = True

    @property
    def passed(self) -> bool:
        return self.value >= self.target if self.higher_is_better else self.value <= self.target


@dataclass
class EvalReport:
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    bars: list[Bar] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(b.passed for b in self.bars)

    def as_dict(self) -> dict[str, Any]:
        bars = [{**asdict(b), "passed": b.passed} for b in self.bars]
        return {"passed": self.passed, "bars": bars, "sections": self.sections}


def _examples(items: Sequence[datasets.Labelled]) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for x in items:
        out[x.label][x.language].append(x.text)
    return {k: dict(v) for k, v in out.items()}


def evaluate_banking77(data_dir: Path, backend: str = "tfidf") -> dict[str, Any]:
    """Train on Banking77 train, report test accuracy (no out-of-scope rejection)."""
    train = datasets.read_banking77(data_dir, "train")
    test = datasets.read_banking77(data_dir, "test")
    started = time.perf_counter()
    model = NluModel.train(_examples(train), out_of_scope_threshold=0.0, backend=backend)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = model.classify_batch([x.text for x in test])
    predict_ms = (time.perf_counter() - started) * 1000 / len(test)
    correct = sum(p[0] == x.label for p, x in zip(predicted, test, strict=True))
    return {
        "accuracy": round(correct / len(test), 4),
        "train_examples": len(train),
        "test_examples": len(test),
        "train_seconds": round(train_seconds, 1),
        "backend": backend,
        "batch_ms_per_message": round(predict_ms, 2),
    }


def _choose_threshold(
    scored: Sequence[tuple[np.ndarray, np.ndarray, bool]], target: float
) -> float:
    """Highest threshold keeping in-scope accuracy >= target over every validation fold.

    ``scored`` holds (in-scope score, prediction correct, is_unknown) arrays per item group.
    """
    top = np.concatenate([s for s, _, _ in scored])
    ok = np.concatenate([c for _, c, _ in scored])
    unknown = np.concatenate([np.full(len(s), u) for s, _, u in scored])
    best = 0.0
    for th in np.unique(np.round(top[~unknown], 3)):
        if (ok & (top >= th))[~unknown].mean() >= target:
            best = max(best, float(th))
    return best


Scored = list[tuple[np.ndarray, np.ndarray, bool]]


def _score(
    model: NluModel, items: Sequence[datasets.Labelled]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(in-scope score, top probability, prediction correct) per item, as `classify` sees it."""
    probs, scores = model.classifier.scored([x.text for x in items])
    labels = np.array(model.classifier.labels)
    correct = labels[probs.argmax(axis=1)] == np.array([x.label for x in items])
    return scores, probs.max(axis=1), correct


def _validation_scores(
    known_train: Sequence[datasets.Labelled],
    holdout: float,
    seed: int,
    folds: int,
    backend: str = "tfidf",
) -> tuple[Scored, Scored]:
    """Scores on validation folds that hold out a share of the *training* intents as unknown:
    (in-scope score, max probability) groups for ``_choose_threshold``."""
    known = sorted({x.label for x in known_train})
    by_score: Scored = []
    by_probability: Scored = []
    for fold in range(folds):
        rng = random.Random(1000 * (seed + 1) + fold)
        val_unknown = set(rng.sample(known, round(len(known) * holdout)))
        rest = [x for x in known_train if x.label not in val_unknown]
        rng.shuffle(rest)
        cut = int(len(rest) * 0.8)
        fit, val_in = rest[:cut], rest[cut:]
        val_out = [x for x in known_train if x.label in val_unknown]
        rng.shuffle(val_out)
        model = NluModel.train(_examples(fit), backend=backend)
        score, top, correct = _score(model, val_in)
        out_score, out_top, _ = _score(model, val_out[: len(val_in)])
        none = np.zeros(len(out_score), bool)
        by_score += [(score, correct, False), (out_score, none, True)]
        by_probability += [(top, correct, False), (out_top, none, True)]
    return by_score, by_probability


def evaluate_out_of_scope(
    data_dir: Path,
    holdout: float = 0.25,
    seed: int = 0,
    dev_target: float = OOS_DEV_TARGET,
    folds: int = OOS_VALIDATION_FOLDS,
    backend: str = "tfidf",
) -> dict[str, Any]:
    """Hold out a quarter of Banking77's intents as unknown; report both sides of the trade.

    The product's detector is the in-scope score of `NluModel.classify`; the top probability
    alone, with its own validation threshold, is reported beside it for comparison.
    """
    train = datasets.read_banking77(data_dir, "train")
    test = datasets.read_banking77(data_dir, "test")
    intents = sorted({x.label for x in train})
    unknown = set(random.Random(seed).sample(intents, round(len(intents) * holdout)))
    known_train = [x for x in train if x.label not in unknown]
    by_score, by_probability = _validation_scores(known_train, holdout, seed, folds, backend)
    threshold = _choose_threshold(by_score, dev_target)
    prob_threshold = _choose_threshold(by_probability, dev_target)
    val_recall = float(np.mean(np.concatenate([s < threshold for s, _, u in by_score if u])))
    model = NluModel.train(
        _examples(known_train), out_of_scope_threshold=threshold, backend=backend
    )
    decisions = model.classify_batch([x.text for x in test])
    score, top, _ = _score(model, test)
    pred = np.array([d[0] for d in decisions], dtype=object)
    accepted = ~np.array([d[2] for d in decisions])
    probs_pred = np.array(model.classifier.labels)[model.classifier.predict_proba(
        [x.text for x in test]).argmax(axis=1)]  # fmt: skip
    gold = np.array([x.label for x in test])
    is_known = np.array([x.label not in unknown for x in test])

    def at(values: np.ndarray, th: float) -> tuple[float, float]:
        kept = values >= th
        in_scope = float(((probs_pred == gold) & kept)[is_known].mean())
        return round(in_scope, 4), round(float((~kept)[~is_known].mean()), 4)

    in_scope_acc = round(float(((pred == gold) & accepted)[is_known].mean()), 4)
    oos_recall = round(float((~accepted)[~is_known].mean()), 4)
    if (in_scope_acc, oos_recall) != at(score, threshold):
        raise AssertionError("classify_batch and the in-scope scores disagree")
    curve = {f"{th:.2f}": at(score, th) for th in (0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95)}
    return {
        "backend": backend,
        "unknown_intents": sorted(unknown),
        "threshold": round(threshold, 3),
        "threshold_method": (
            f"in-scope score (top probability and nearest-example similarity, weight "
            f"{model.classifier.neighbour_weight}); {folds} validation folds holding out "
            f"{holdout:.0%} of the training intents; validation in-scope accuracy >= {dev_target}"
        ),
        "validation_oos_recall": round(val_recall, 4),
        "in_scope_accuracy": in_scope_acc,
        "out_of_scope_recall": oos_recall,
        "in_scope_accuracy_without_rejection": round(
            float((probs_pred == gold)[is_known].mean()), 4
        ),
        "max_probability_alone": {
            "threshold": round(prob_threshold, 3),
            "in_scope_accuracy_and_oos_recall": at(top, prob_threshold),
        },
        "curve_threshold_to_in_scope_acc_and_oos_recall": curve,
    }


def evaluate_human_request(data_dir: Path, test_dir: Path, model: NluModel) -> dict[str, Any]:
    """Recall on explicit requests, false positives on ordinary messages, via parse()."""
    positives, negatives = datasets.human_request_sets(data_dir, test_dir)
    misses = [x for x in positives if not model.parse(x.text).human_request]
    false_pos = [x for x in negatives if model.parse(x.text).human_request]
    by_lang = Counter(x.language for x in positives)
    missed_lang = Counter(x.language for x in misses)
    extra = {
        name: round(sum(model.parse(t).human_request for t in texts) / max(1, len(texts)), 4)
        for name, texts in datasets.bitext_person_requests(data_dir).items()
    }
    return {
        "positives": len(positives),
        "negatives": len(negatives),
        "negatives_by_source": dict(Counter(x.source.split("-")[0] for x in negatives)),
        "recall": round(1 - len(misses) / len(positives), 4),
        "false_positive_rate": round(len(false_pos) / len(negatives), 4),
        "recall_by_language": {
            lang: round(1 - missed_lang[lang] / n, 4) for lang, n in sorted(by_lang.items())
        },
        "misses": [f"{x.language}: {x.text}" for x in misses],
        "false_positives": [f"{x.source}: {x.text}" for x in false_pos],
        "bitext_detection_rate": extra,
    }


def evaluate_pack(test_dir: Path, model: NluModel) -> dict[str, Any]:
    """Intent accuracy of the full parse() on the held-out pack messages, per language."""
    per_lang: dict[str, list[bool]] = defaultdict(list)
    confusions: Counter[str] = Counter()
    lang_ok: dict[str, list[bool]] = defaultdict(list)
    for x in datasets.read_heldout(test_dir):
        result = model.parse(x.text)
        per_lang[x.language].append(result.intent == x.label)
        lang_ok[x.language].append(result.language == x.language)
        if result.intent != x.label:
            confusions[f"{x.label} -> {result.intent}"] += 1
    return {
        "accuracy": {k: round(sum(v) / len(v), 4) for k, v in sorted(per_lang.items())},
        "messages": {k: len(v) for k, v in sorted(per_lang.items())},
        "language_detection_accuracy": {
            k: round(sum(v) / len(v), 4) for k, v in sorted(lang_ok.items())
        },
        "top_confusions": dict(confusions.most_common(10)),
    }


def run_all(
    data_dir: Path | str,
    test_dir: Path | str,
    pack: Pack | None = None,
    backend: str = "tfidf",
) -> EvalReport:
    """Every bar; `data_dir` is the shared datasets folder, `test_dir` tests/bot/data."""
    data_dir, test_dir = Path(data_dir), Path(test_dir)
    report = EvalReport()
    started = time.perf_counter()
    model = NluModel.from_pack(pack or load_pack())
    report.sections["pack_training_seconds"] = {"seconds": round(time.perf_counter() - started, 2)}
    b77 = evaluate_banking77(data_dir, backend)
    oos = evaluate_out_of_scope(data_dir, backend=backend)
    human = evaluate_human_request(data_dir, test_dir, model)
    packs = evaluate_pack(test_dir, model)
    report.sections.update({"banking77": b77, "out_of_scope": oos, "human_request": human})
    report.sections["pack"] = packs
    report.bars += [
        Bar("banking77_accuracy", b77["accuracy"], 0.91 if backend == "tfidf" else 0.93),
        Bar("oos_in_scope_accuracy", oos["in_scope_accuracy"], 0.85),
        Bar("oos_recall (aim)", oos["out_of_scope_recall"], 0.85),
        Bar("human_request_recall", human["recall"], 0.995),
        Bar("human_request_false_positive_rate", human["false_positive_rate"], 0.01, False),
    ]
    report.bars += [
        Bar(f"pack_accuracy_{lang}", packs["accuracy"].get(lang, 0.0), 0.90)
        for lang in PACK_LANGUAGES
    ]
    return report
