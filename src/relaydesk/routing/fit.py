"""Refit the value model's coefficients from resolved journeys with recorded outcomes.

A journey resolved with outcome ``purchase`` (or ``purchased``, ``sale``) counts as a
purchase, ``churn`` (``churned``, ``cancelled``) as churn, anything else as neither. Its
features are the ones its latest routing decision used, so the refit sees exactly what the
router saw. Two L2-regularised logistic regressions (scikit-learn) give the new biases and
weights; churn weights of trouble signals are clipped at 0 (the workspace refuses negative
ones), tier offsets are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.journeys.models import Journey
from relaydesk.routing.models import RoutingDecision
from relaydesk.routing.schemas import FEATURES, RISK_FEATURES, Coefficients, Propensity

PURCHASE_OUTCOMES = frozenset({"purchase", "purchased", "sale"})
CHURN_OUTCOMES = frozenset({"churn", "churned", "cancelled"})
MIN_SAMPLES = 200
MIN_POSITIVES = 10


class NotEnoughData(ValueError):
    pass


@dataclass(frozen=True)
class Sample:
    features: dict[str, float]
    purchased: bool
    churned: bool


@dataclass(frozen=True)
class FitResult:
    coefficients: Coefficients
    samples: int
    purchases: int
    churns: int
    clipped: tuple[str, ...]
    """Churn weights that came out negative and were set to 0."""


def _model(
    samples: Sequence[Sample], label: str, tiers: dict[str, float]
) -> tuple[Propensity, list[str]]:
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    x = [[s.features.get(name, 0.0) for name in FEATURES] for s in samples]
    y = [getattr(s, label) for s in samples]
    fitted = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    weights = {name: round(float(w), 4) for name, w in zip(FEATURES, fitted.coef_[0], strict=True)}
    clipped = []
    if label == "churned":
        for name in RISK_FEATURES:
            if weights[name] < 0:
                weights[name] = 0.0
                clipped.append(name)
    return Propensity(
        bias=round(float(fitted.intercept_[0]), 4), weights=weights, tiers=tiers
    ), clipped


def fit(
    samples: Sequence[Sample], current: Coefficients, *, min_samples: int = MIN_SAMPLES
) -> FitResult:
    """New coefficients, or ``NotEnoughData`` naming what is missing."""
    purchases = sum(s.purchased for s in samples)
    churns = sum(s.churned for s in samples)
    if len(samples) < min_samples:
        raise NotEnoughData(f"{len(samples)} resolved journeys with outcomes; need {min_samples}")
    for name, count in (("purchase", purchases), ("churn", churns)):
        if not MIN_POSITIVES <= count <= len(samples) - MIN_POSITIVES:
            raise NotEnoughData(
                f"{count} {name} outcomes of {len(samples)}; need at least {MIN_POSITIVES} "
                "with and without"
            )
    churn, clipped = _model(samples, "churned", dict(current.churn.tiers))
    purchase, _ = _model(samples, "purchased", dict(current.purchase.tiers))
    return FitResult(
        Coefficients(churn=churn, purchase=purchase),
        len(samples),
        purchases,
        churns,
        tuple(clipped),
    )


async def training_samples(session: AsyncSession) -> list[Sample]:
    """Resolved journeys with an outcome and a routing decision, one sample each."""
    rows = (
        await session.execute(
            select(Journey.id, Journey.outcome, RoutingDecision.inputs)
            .join(RoutingDecision, RoutingDecision.journey_id == Journey.id)
            .where(Journey.status == "resolved", Journey.outcome.is_not(None))
            .order_by(Journey.id, RoutingDecision.created_at.desc())
        )
    ).all()
    samples: dict[object, Sample] = {}
    for journey_id, outcome, inputs in rows:
        if journey_id in samples:
            continue  # the latest decision only
        features = ((inputs or {}).get("value") or {}).get("features") or {}
        if not features:
            continue
        samples[journey_id] = Sample(
            {k: float(v) for k, v in features.items() if k in FEATURES},
            (outcome or "").lower() in PURCHASE_OUTCOMES,
            (outcome or "").lower() in CHURN_OUTCOMES,
        )
    return list(samples.values())
