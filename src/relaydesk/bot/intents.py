"""The workspace's pack: the default pack extended (or replaced) by the ``bot:`` section.

Pure: the stored section in, a ``Pack`` out, so the live hub, ``relaydesk bot eval`` and the
simulator build the same pack from the same data. ``definition_version`` is the cheap key
the hub compares to know when to train again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from relaydesk.bot.pack import FactSpec, IntentSpec, Pack
from relaydesk.bot.schemas import BotSpec, default_pack


def definition_version(definition: Mapping[str, Any]) -> str:
    """A stable hash of the stored section (key order and whitespace do not matter)."""
    canonical = json.dumps(definition, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _merge_examples(
    into: dict[str, dict[str, list[str]]], intent: str, examples: Mapping[str, list[str]]
) -> None:
    per_lang = into.setdefault(intent, {})
    for lang, texts in examples.items():
        current = per_lang.get(lang, [])
        seen = set(current)
        added = [t.strip() for t in texts if t.strip() not in seen]
        per_lang[lang] = [*current, *dict.fromkeys(added)]


def workspace_pack(definition: Mapping[str, Any], base: Pack | None = None) -> Pack:
    """The pack a workspace's model is trained on, from its stored ``bot:`` section."""
    spec = BotSpec.model_validate(dict(definition))
    pack = base or default_pack()
    extend = spec.pack == "default"
    facts: dict[str, FactSpec] = dict(pack.facts) if extend else {}
    for fid, fact in spec.facts.items():
        prompt = {**(facts[fid].prompt if fid in facts else {}), **fact.prompt}
        facts[fid] = FactSpec(fid, fact.entity, prompt)
    intents: dict[str, IntentSpec] = dict(pack.intents) if extend else {}
    examples: dict[str, dict[str, list[str]]] = (
        {iid: {lang: list(t) for lang, t in per.items()} for iid, per in pack.examples.items()}
        if extend
        else {}
    )
    for iid, decl in spec.intents.items():
        old = intents.get(iid)
        intents[iid] = IntentSpec(
            id=iid,
            bot_may_resolve=(
                decl.bot_may_resolve
                if decl.bot_may_resolve is not None
                else (old.bot_may_resolve if old else False)
            ),
            article=(
                decl.article
                if "article" in decl.model_fields_set
                else (old.article if old else None)
            ),
            required_facts=(
                tuple(decl.required_facts)
                if decl.required_facts is not None
                else (old.required_facts if old else ())
            ),
            signals=(
                frozenset(decl.signals)
                if decl.signals is not None
                else (old.signals if old else frozenset())
            ),
        )
        _merge_examples(examples, iid, decl.examples)
    oos = {lang: list(texts) for lang, texts in pack.out_of_scope_examples.items()}
    for lang, texts in spec.out_of_scope.items():
        oos[lang] = [*oos.get(lang, ()), *texts]
    languages = list(pack.languages) if extend else []
    for per_lang in examples.values():
        languages += [lang for lang in per_lang if lang not in languages]
    threshold = spec.out_of_scope_threshold
    return Pack(
        id=f"{pack.id}+workspace" if extend else "workspace",
        name=pack.name if extend else "Workspace intents",
        out_of_scope_threshold=pack.out_of_scope_threshold if threshold is None else threshold,
        languages=tuple(languages),
        intents=intents,
        facts=facts,
        examples=examples,
        out_of_scope_examples=oos,
        articles=pack.articles if extend else (),
    )
