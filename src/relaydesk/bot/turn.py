"""One bot turn's understanding: parse, facts, knowledge and the reasons to hand off.

The dialogue code (and the simulator) gets everything it needs to reply or step aside from
one pure call; nothing here writes or sends anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from relaydesk.bot.kb import KbMatch, KnowledgeBase
from relaydesk.bot.nlu import NluModel, ParseResult
from relaydesk.bot.pack import Pack

# Facts an entity type fills in the journey's context.
ENTITY_FACTS = {
    "order_number": "order_number",
    "email": "email",
    "phone": "phone",
    "amount": "amount",
}


@dataclass(frozen=True)
class TurnAnalysis:
    parse: ParseResult
    facts: dict[str, str]
    missing_facts: list[str]
    fact_prompt: str | None
    article: KbMatch | None
    suggestions: list[KbMatch]
    signals: list[str]
    handoff_reasons: list[str] = field(default_factory=list)

    @property
    def hand_off(self) -> bool:
        return bool(self.handoff_reasons)


def analyse_turn(
    model: NluModel,
    pack: Pack,
    kb: KnowledgeBase,
    text: str,
    *,
    language: str | None = None,
    known_facts: Mapping[str, str] | None = None,
    previous: Sequence[str] = (),
    min_confidence: float = 0.5,
) -> TurnAnalysis:
    """Understand one customer message in the context of what the journey already knows."""
    parsed = model.parse(text, language=language, previous=previous)
    facts = dict(known_facts or {})
    for entity in parsed.entities:
        fact = ENTITY_FACTS.get(str(entity["type"]))
        if fact and fact not in facts:
            facts[fact] = str(entity["value"])
    intent = parsed.intent
    spec = pack.intents.get(intent) if intent else None
    missing = [f.id for f in pack.missing_facts(intent, facts)] if intent else []
    prompt = pack.facts[missing[0]].prompt_for(parsed.language) if missing else None
    article = kb.variant(spec.article, parsed.language) if spec and spec.article else None
    reasons = []
    if parsed.human_request:
        reasons.append("human_request")
    if parsed.sentiment.get("frustrated"):
        reasons.append("frustrated")
    if spec is not None and not spec.bot_may_resolve:
        reasons.append("human_only_intent")
    if parsed.out_of_scope or parsed.confidence < min_confidence:
        reasons.append("low_confidence")
    return TurnAnalysis(
        parse=parsed,
        facts=facts,
        missing_facts=missing,
        fact_prompt=prompt,
        article=article,
        suggestions=kb.search(text, parsed.language),
        signals=sorted(spec.signals) if spec else [],
        handoff_reasons=reasons,
    )
