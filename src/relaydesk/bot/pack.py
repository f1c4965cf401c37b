"""Bot packs: intents with their metadata, training examples per language, and articles.

A pack is plain data so a workspace file, the database and the simulator can all hand the
same thing to the NLU. The default pack ships in relaydesk/bot/packs/default; a workspace
can start from it and override intents, examples or articles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PACK_DIR = Path(__file__).parent / "packs" / "default"
SIGNALS = frozenset({"purchase_intent", "churn_risk", "complaint"})


class PackError(ValueError):
    """A pack file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class FactSpec:
    id: str
    entity: str
    prompt: dict[str, str]

    def prompt_for(self, language: str) -> str:
        return (
            self.prompt.get(language) or self.prompt.get("en") or next(iter(self.prompt.values()))
        )


@dataclass(frozen=True)
class IntentSpec:
    id: str
    bot_may_resolve: bool
    article: str | None
    required_facts: tuple[str, ...]
    signals: frozenset[str]


@dataclass(frozen=True)
class ArticleVariant:
    title: str
    body: str
    questions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Article:
    slug: str
    tags: tuple[str, ...]
    variants: dict[str, ArticleVariant]


@dataclass(frozen=True)
class Pack:
    id: str
    name: str
    out_of_scope_threshold: float
    languages: tuple[str, ...]
    intents: dict[str, IntentSpec]
    facts: dict[str, FactSpec]
    examples: dict[str, dict[str, list[str]]]
    out_of_scope_examples: dict[str, list[str]] = field(default_factory=dict)
    articles: tuple[Article, ...] = ()

    def missing_facts(self, intent: str, known: Mapping[str, object]) -> list[FactSpec]:
        """The facts this intent needs that the journey does not have yet, in order."""
        spec = self.intents.get(intent)
        if spec is None:
            return []
        return [self.facts[f] for f in spec.required_facts if not known.get(f)]

    def article_for(self, intent: str) -> Article | None:
        spec = self.intents.get(intent)
        if spec is None or spec.article is None:
            return None
        return next((a for a in self.articles if a.slug == spec.article), None)

    def example_count(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for per_lang in self.examples.values():
            for lang, texts in per_lang.items():
                counts[lang] = counts.get(lang, 0) + len(texts)
        return counts


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PackError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PackError(f"{path}: expected a mapping at the top level")
    return data


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise PackError(f"{where}: expected a list of non-empty strings")
    return [v.strip() for v in value]


def _intent(iid: str, raw: object, facts: Mapping[str, FactSpec], where: str) -> IntentSpec:
    if not isinstance(raw, dict):
        raise PackError(f"{where}: intents.{iid}: expected a mapping")
    required = tuple(raw.get("required_facts") or ())
    unknown = [f for f in required if f not in facts]
    if unknown:
        raise PackError(f"{where}: intents.{iid}.required_facts: unknown fact(s) {unknown}")
    signals = frozenset(raw.get("signals") or ())
    if not signals <= SIGNALS:
        raise PackError(f"{where}: intents.{iid}.signals: unknown {sorted(signals - SIGNALS)}")
    article = raw.get("article")
    return IntentSpec(iid, bool(raw.get("bot_may_resolve", False)), article, required, signals)


def _articles(path: Path) -> tuple[Article, ...]:
    if not path.exists():
        return ()
    out = []
    for i, raw in enumerate(_read(path).get("articles") or []):
        where = f"{path}: articles[{i}]"
        try:
            variants = {
                lang: ArticleVariant(v["title"], v["body"], tuple(v.get("questions") or ()))
                for lang, v in raw["variants"].items()
            }
            out.append(Article(raw["slug"], tuple(raw.get("tags") or ()), variants))
        except (KeyError, TypeError, AttributeError) as exc:
            raise PackError(f"{where}: missing or malformed field {exc}") from exc
    return tuple(out)


def load_pack(directory: Path | str = DEFAULT_PACK_DIR) -> Pack:
    """Read pack.yaml, every <language>.yaml beside it, and articles.yaml."""
    root = Path(directory)
    meta_path = root / "pack.yaml"
    meta = _read(meta_path)
    facts = {
        fid: FactSpec(fid, str(raw.get("entity", fid)), dict(raw.get("prompt") or {}))
        for fid, raw in (meta.get("facts") or {}).items()
    }
    intents = {
        iid: _intent(iid, raw, facts, str(meta_path))
        for iid, raw in (meta.get("intents") or {}).items()
    }
    if not intents:
        raise PackError(f"{meta_path}: intents: the pack defines no intents")
    examples: dict[str, dict[str, list[str]]] = {iid: {} for iid in intents}
    oos: dict[str, list[str]] = {}
    languages = tuple(meta.get("languages") or ())
    for lang in languages:
        path = root / f"{lang}.yaml"
        if not path.exists():
            continue
        data = _read(path)
        for iid, texts in (data.get("intents") or {}).items():
            if iid not in intents:
                raise PackError(f"{path}: intents.{iid}: not declared in pack.yaml")
            examples[iid][lang] = _strings(texts, f"{path}: intents.{iid}")
        if data.get("out_of_scope"):
            oos[lang] = _strings(data["out_of_scope"], f"{path}: out_of_scope")
    threshold = float(meta.get("out_of_scope_threshold", 0.5))
    if not 0.0 <= threshold < 1.0:
        raise PackError(f"{meta_path}: out_of_scope_threshold: must be in [0, 1)")
    return Pack(
        id=str(meta.get("id", root.name)),
        name=str(meta.get("name", root.name)),
        out_of_scope_threshold=threshold,
        languages=languages,
        intents=intents,
        facts=facts,
        examples=examples,
        out_of_scope_examples=oos,
        articles=_articles(root / "articles.yaml"),
    )
