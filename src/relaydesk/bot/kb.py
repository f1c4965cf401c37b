"""Knowledge-base retrieval over in-memory articles, for bot answers and agent suggestions.

Articles come in as plain data (the hub loads them from the database, the simulator from a
file); the index is rebuilt when they change, which takes milliseconds for hundreds of
articles. Scoring is TF-IDF cosine over word and character n-grams of the title, the
questions an article answers, its tags and its body, so a question phrased with a typo or
a different inflection still finds its article.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from relaydesk.bot.pack import Article
from relaydesk.bot.text import normalise_for_model

if TYPE_CHECKING:  # scikit-learn is imported when an index is built, not with the bot
    from sklearn.pipeline import FeatureUnion  # type: ignore[import-untyped]

    from relaydesk.bot.classifier import SparseFeatures

# Function words carry no topic; in a small knowledge base they would dominate the scores.
STOPWORDS = frozenset(
    """
    a an the is are was be to of in on at for with and or my your our i you we it this that
    what which who how when where do does can could would should me there here have has not
    yang di ke dari dan atau saya anda kami ini itu apa bagaimana kapan mana bisa ada untuk
    dengan tidak sudah
    och att det som en ett i pa av for med jag du vi ni min mitt mina er hur vad nar var kan
    ar har inte den
    i w z na do o a ze sie jak co czy jest moje moja moj mam nie to jaki jaka gdzie kiedy
    der die das und oder ich du wir sie ist ein eine mit von zu auf fur wie was wo wann
    el la los las y o de en un una mi que como es con por para
    le la les et ou de du des un une je tu nous vous mon ma est avec pour comment quand ou
    de het een en of ik jij wij mijn is met voor hoe wat waar
    o a os as e ou de do da em um uma meu minha que como com para
    il lo la gli le e o di da in un una mio mia che come con per
    """.split()  # noqa: SIM905 - one line per language reads better than a list
)

# A variant in another language than the customer's still helps an agent, but ranks lower.
OTHER_LANGUAGE_FACTOR = 0.7


@dataclass(frozen=True, slots=True)
class KbMatch:
    slug: str
    language: str
    title: str
    body: str
    score: float
    url: str | None = None
    """The article in the public help centre, when the knowledge base knows its address."""


def article_url(base_url: str, slug: str, language: str) -> str:
    """``<base_url>/help/<slug>?lang=<language>``; ``base_url`` may be "" for a relative link."""
    return f"{base_url.rstrip('/')}/help/{slug}?lang={language}"


def _document(article: Article, language: str) -> str:
    v = article.variants[language]
    parts = [v.title, v.title, *v.questions, *v.questions, " ".join(article.tags), v.body]
    return _content(" \n ".join(parts))


def _content(text: str) -> str:
    return " ".join(
        w for w in normalise_for_model(text).split() if w.strip("?.,!") not in STOPWORDS
    )


class KnowledgeBase:
    """Ranked search over article variants; pure and picklable."""

    def __init__(self, articles: Iterable[Article], *, base_url: str | None = None) -> None:
        """``base_url`` (the hub's public URL, or "") makes every match carry its help link."""
        self.articles = tuple(articles)
        self.base_url = base_url
        self._keys: list[tuple[Article, str]] = [
            (a, lang) for a in self.articles for lang in sorted(a.variants)
        ]
        self._vectorizer: FeatureUnion | None = None
        self._matrix = None
        self._fast: SparseFeatures | None = None
        if self._keys:
            from sklearn.feature_extraction.text import (  # type: ignore[import-untyped]
                TfidfVectorizer,
            )
            from sklearn.pipeline import FeatureUnion

            self._vectorizer = FeatureUnion(
                [
                    ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                    (
                        "char",
                        TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
                    ),
                ]
            )
            self._matrix = self._vectorizer.fit_transform(
                [_document(a, lang) for a, lang in self._keys]
            )

    def search(
        self, query: str, language: str | None = None, top_k: int = 3, min_score: float = 0.1
    ) -> list[KbMatch]:
        """Best articles for `query`, one variant per article, highest score first."""
        if self._vectorizer is None or self._matrix is None or not query.strip():
            return []
        import numpy as np  # imported already: the index was built with scikit-learn

        from relaydesk.bot.classifier import SparseFeatures

        fast = getattr(self, "_fast", None)
        if fast is None:
            fast = self._fast = SparseFeatures(self._vectorizer)
        cols, vals = fast.transform(_content(query))
        if not len(cols):
            return []
        sims = np.asarray(self._matrix[:, cols] @ vals).ravel() / 2.0  # two unit-norm blocks
        best: dict[str, KbMatch] = {}
        for (article, lang), sim in zip(self._keys, sims, strict=True):
            score = float(sim) * (1.0 if language in (None, lang) else OTHER_LANGUAGE_FACTOR)
            current = best.get(article.slug)
            if current is None or score > current.score:
                v = article.variants[lang]
                best[article.slug] = KbMatch(
                    article.slug, lang, v.title, v.body, round(score, 4), self._url(article, lang)
                )
        ranked = sorted(best.values(), key=lambda m: -m.score)
        return [m for m in ranked if m.score >= min_score][:top_k]

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_fast": None}

    def variant(self, slug: str, language: str) -> KbMatch | None:
        """The article in the customer's language, else English, else any variant."""
        article = next((a for a in self.articles if a.slug == slug), None)
        if article is None:
            return None
        lang = language if language in article.variants else "en"
        if lang not in article.variants:
            lang = next(iter(article.variants))
        v = article.variants[lang]
        return KbMatch(slug, lang, v.title, v.body, 1.0, self._url(article, lang))

    def _url(self, article: Article, language: str) -> str | None:
        base = getattr(self, "base_url", None)
        return None if base is None else article_url(base, article.slug, language)
