"""The default intent backend: TF-IDF word and character n-grams, linear SVM, softmax.

Character n-grams carry typos, inflection (Polish cases, Indonesian affixes) and compounds
(Swedish, German) that word features miss; word n-grams carry the phrasing. A linear SVM
trains in about a second on a workspace's examples (logistic regression took 10-20 s for
the same accuracy), needs no model download, and its scores become probabilities through
a softmax whose temperature is fitted on cross-validated scores, so an out-of-scope
threshold means the same thing for any workspace.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import softmax  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # type: ignore[import-untyped]
from sklearn.pipeline import FeatureUnion  # type: ignore[import-untyped]
from sklearn.preprocessing import normalize  # type: ignore[import-untyped]
from sklearn.svm import LinearSVC  # type: ignore[import-untyped]

from relaydesk.bot.text import normalise_for_model

TEMPERATURES = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 14.0, 20.0)


def _features() -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    token_pattern=r"<?\b\w+\b>?",  # noqa: S106
                ),
            ),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True)),
        ]
    )


def _fit_temperature(scores: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> float:
    """Temperature that minimises the log-loss of softmax(T * scores) on held-out folds."""
    idx = np.searchsorted(classes, labels)
    best_t, best_loss = TEMPERATURES[0], np.inf
    for t in TEMPERATURES:
        p = softmax(scores * t, axis=1)[np.arange(len(idx)), idx]
        loss = float(-np.log(np.clip(p, 1e-12, None)).mean())
        if loss < best_loss:
            best_t, best_loss = t, loss
    return best_t


class SparseFeatures:
    """The fitted FeatureUnion applied to one text without sklearn's per-call validation.

    sklearn spends about 7 ms of checks on every single-text transform; a bot turn needs
    the same numbers in well under a millisecond. Equivalence with the sklearn path is
    tested.
    """

    def __init__(self, union: FeatureUnion) -> None:
        self._blocks = []
        offset = 0
        meaningful: list[np.ndarray] = []
        for name, vec in union.transformer_list:
            self._blocks.append((vec.build_analyzer(), vec.vocabulary_, vec.idf_, offset))
            offset += len(vec.vocabulary_)
            mask = np.ones(len(vec.vocabulary_), dtype=bool)
            if name == "char":  # a space, a letter or a pair says nothing about an intent
                for term, j in vec.vocabulary_.items():
                    mask[j] = len(term.replace(" ", "")) >= 3
            meaningful.append(mask)
        self.size = offset
        self.meaningful = np.concatenate(meaningful)
        """Features that show the text shares something with the training examples: a word,
        or a character n-gram of three letters or more."""

    def transform(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and TF-IDF weights (each block L2-normalised, like sklearn)."""
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for analyze, vocab, idf, offset in self._blocks:
            counts: dict[int, int] = {}
            for term in analyze(text):
                j = vocab.get(term)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            w = (1.0 + np.log(tf)) * idf[idx]
            w /= np.sqrt((w * w).sum())
            cols.append(idx + offset)
            vals.append(w)
        if not cols:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(cols), np.concatenate(vals)


class Neighbours:
    """Training vectors grouped by label: how close a text is to the nearest example of the
    intent it was given. A message of an unknown intent often gets a confident probability
    from words it shares with a known intent, yet resembles none of its examples."""

    def __init__(self, vectors: Any, labels: np.ndarray, classes: Sequence[str]) -> None:
        unit = normalize(vectors)
        self.blocks = [unit[np.flatnonzero(labels == c)] for c in classes]
        for block in self.blocks:
            if hasattr(block, "sort_indices"):
                block.sort_indices()

    def nearest(self, vectors: Any, label_idx: np.ndarray) -> np.ndarray:
        """Cosine similarity of each row of ``vectors`` to the closest example of its label."""
        unit = normalize(vectors)
        out = np.zeros(unit.shape[0])
        for k in np.unique(label_idx):
            rows = np.flatnonzero(label_idx == k)
            block = self.blocks[int(k)]
            if block.shape[0]:
                sims = unit[rows] @ block.T
                dense = sims.toarray() if hasattr(sims, "toarray") else np.asarray(sims)
                out[rows] = dense.max(axis=1)
        return out

    def nearest_one(self, vector: np.ndarray, label_idx: int) -> float:
        """``nearest`` for one dense vector (the single-message path)."""
        norm = float(np.sqrt(np.square(vector).sum()))  # not a BLAS dot: it spawns threads
        block = self.blocks[label_idx]
        if norm == 0.0 or not block.shape[0]:
            return 0.0
        return float(np.max(block @ (vector / norm)))


def _wordy(text: str) -> bool:
    """Three letters or more: enough to share a word or trigram with the examples if it
    means something here. "👍", "k" or "#12345" are left to the classifier as before."""
    letters = 0
    for char in text:
        if char.isalpha():
            letters += 1
            if letters >= 3:
                return True
    return False


def in_scope_score(top_probability: Any, similarity: Any, weight: float) -> Any:
    """Top probability and nearest-example similarity averaged with ``weight`` on the latter;
    the out-of-scope threshold applies to this score (see docs/bot.md)."""
    return (top_probability + weight * similarity) / (1.0 + weight)


class TextClassifier:
    """Multiclass text classifier with probabilities good enough to reject on."""

    neighbour_weight = 1.0
    """Weight of the nearest-example similarity in the in-scope score, chosen on validation
    folds of Banking77 *train* that hold out a quarter of the intents (docs/bot.md)."""

    def __init__(self, c: float = 1.0, calibrate: bool = True, temperature: float = 5.0) -> None:
        self.c = c
        self.calibrate = calibrate
        self.temperature = temperature
        self.features = _features()
        self.model = LinearSVC(C=c, random_state=0)
        self.labels: list[str] = []

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TextClassifier:
        y = np.asarray(labels)
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise ValueError("need examples of at least two labels to train a classifier")
        x = self.features.fit_transform([normalise_for_model(t) for t in texts])
        folds = min(3, int(counts.min()))
        if self.calibrate and folds >= 2:
            cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
            scores = cross_val_predict(
                LinearSVC(C=self.c, random_state=0), x, y, cv=cv, method="decision_function"
            )
            if len(classes) == 2:
                scores = np.column_stack([-scores, scores])
            self.temperature = _fit_temperature(np.asarray(scores), y, classes)
        self.model.fit(x, y)
        self.labels = [str(c) for c in self.model.classes_]
        self.neighbours = Neighbours(x, y, self.labels)
        self._fast: tuple[SparseFeatures, np.ndarray, np.ndarray] | None = None
        return self

    def _fast_path(self) -> tuple[SparseFeatures, np.ndarray, np.ndarray]:
        if getattr(self, "_fast", None) is None:
            coef = np.asarray(self.model.coef_)
            intercept = np.asarray(self.model.intercept_)
            if coef.shape[0] == 1:  # binary: one row scores the second class
                coef = np.vstack([-coef, coef])
                intercept = np.concatenate([-intercept, intercept])
            self._fast = (SparseFeatures(self.features), np.ascontiguousarray(coef.T), intercept)
        assert self._fast is not None
        return self._fast

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_fast"] = None  # rebuilt on first use; analyzers are closures
        return state

    def proba_one(self, text: str) -> np.ndarray:
        """Probabilities for one text, about 20 times faster than predict_proba."""
        features, coef_t, intercept = self._fast_path()
        cols, vals = features.transform(normalise_for_model(text))
        scores = intercept + vals @ coef_t[cols] if len(cols) else intercept.copy()
        return np.asarray(softmax(scores * self.temperature))

    def _proba_and_vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        features, coef_t, intercept = self._fast_path()
        cols, vals = features.transform(normalise_for_model(text))
        scores = intercept + vals @ coef_t[cols] if len(cols) else intercept.copy()
        vector = np.zeros(features.size)
        vector[cols] = vals
        return np.asarray(softmax(scores * self.temperature)), vector

    def scored_one(self, text: str) -> tuple[np.ndarray, float]:
        """Probabilities and the in-scope score of one text (see ``in_scope_score``)."""
        probs, vector = self._proba_and_vector(text)
        if _wordy(text) and not vector[self._fast_path()[0].meaningful].any():
            # Nothing in it the model has seen (another script, emoji, "xxxx"): the
            # probabilities are about the intercepts, so it is out of scope, not the likeliest.
            return probs, 0.0
        top = int(probs.argmax())
        similarity = self.neighbours.nearest_one(vector, top)
        return probs, float(in_scope_score(probs[top], similarity, self.neighbour_weight))

    def _proba_matrix(self, texts: Sequence[str]) -> tuple[np.ndarray, Any]:
        x = self.features.transform([normalise_for_model(t) for t in texts])
        scores = np.asarray(self.model.decision_function(x))
        if scores.ndim == 1:
            scores = np.column_stack([-scores, scores])
        return np.asarray(softmax(scores * self.temperature, axis=1)), x

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self._proba_matrix(texts)[0]

    def scored(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``scored_one`` for many texts: probabilities and in-scope scores."""
        probs, x = self._proba_matrix(texts)
        top = probs.argmax(axis=1)
        similarity = self.neighbours.nearest(x, top)
        score = np.asarray(in_scope_score(probs.max(axis=1), similarity, self.neighbour_weight))
        meaningful = self._fast_path()[0].meaningful
        known = np.asarray(x[:, meaningful].getnnz(axis=1) > 0)  # see scored_one
        known |= np.array([not _wordy(t) for t in texts], dtype=bool)
        return probs, np.where(known, score, 0.0)

    def ranked(self, text: str, top: int = 3) -> list[tuple[str, float]]:
        probs = self.proba_one(text)
        order = np.argsort(-probs)[:top]
        return [(self.labels[i], float(probs[i])) for i in order]
