"""Survey summary: CES, VES, CSAT and NPS overall and by channel, intent, agent, resolver.

CES, CSAT and VES are means of their scales (CES and VES 1-7, CSAT 1-5); NPS is the share
of promoters (9-10) minus the share of detractors (0-6), in points from -100 to 100.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.agents.models import Agent
from relaydesk.outreach.models import SurveyAnswer

METRIC_ORDER = ("ces", "ves", "csat", "nps")


@dataclass
class Tally:
    counts: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, score: int, count: int) -> None:
        self.counts[score] += count

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def mean(self) -> float | None:
        return round(sum(s * c for s, c in self.counts.items()) / self.n, 2) if self.n else None


def metric_figures(metric: str, tally: Tally) -> dict[str, Any]:
    if metric != "nps":
        return {"score": tally.mean(), "count": tally.n}
    promoters = sum(c for s, c in tally.counts.items() if s >= 9)
    detractors = sum(c for s, c in tally.counts.items() if s <= 6)
    n = tally.n
    return {
        "score": round(100 * (promoters - detractors) / n, 1) if n else None,
        "count": n,
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
    }


def figures(tallies: dict[str, Tally]) -> dict[str, Any]:
    return {m: metric_figures(m, tallies[m]) for m in METRIC_ORDER if m in tallies}


async def survey_summary(
    session: AsyncSession, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    query = select(
        SurveyAnswer.metric,
        SurveyAnswer.score,
        SurveyAnswer.channel,
        SurveyAnswer.intent,
        SurveyAnswer.agent_id,
        SurveyAnswer.resolved_by,
        func.count(),
    ).group_by(
        SurveyAnswer.metric,
        SurveyAnswer.score,
        SurveyAnswer.channel,
        SurveyAnswer.intent,
        SurveyAnswer.agent_id,
        SurveyAnswer.resolved_by,
    )
    if since is not None:
        query = query.where(SurveyAnswer.answered_at >= since)
    if until is not None:
        query = query.where(SurveyAnswer.answered_at < until)
    rows = (await session.execute(query)).all()
    overall: dict[str, Tally] = defaultdict(Tally)
    groups: dict[str, dict[str, dict[str, Tally]]] = {
        "by_channel": defaultdict(lambda: defaultdict(Tally)),
        "by_intent": defaultdict(lambda: defaultdict(Tally)),
        "by_agent": defaultdict(lambda: defaultdict(Tally)),
        "by_resolver": defaultdict(lambda: defaultdict(Tally)),
    }
    for metric, score, channel, intent, agent_id, resolved_by, count in rows:
        overall[metric].add(score, count)
        groups["by_channel"][channel][metric].add(score, count)
        groups["by_intent"][intent or "unknown"][metric].add(score, count)
        groups["by_resolver"][resolved_by][metric].add(score, count)
        if agent_id is not None:
            groups["by_agent"][str(agent_id)][metric].add(score, count)
    names = {}
    if groups["by_agent"]:
        names = {str(i): n for i, n in (await session.execute(select(Agent.id, Agent.name))).all()}
    result: dict[str, Any] = {"overall": figures(overall)}
    for name, group in groups.items():
        result[name] = {
            key: {**figures(tallies), **({"name": names.get(key)} if name == "by_agent" else {})}
            for key, tallies in sorted(group.items())
        }
    return result
