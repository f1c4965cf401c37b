"""What a journey is worth: revenue at risk + revenue potential, with the reasons.

Pure: signals and customer facts in, an estimate out. The propensities are two small
logistic models whose coefficients live in the workspace file (``routing.coefficients``), so
anyone can read why a journey scored what it did, and ``relaydesk routing fit`` can refit them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relaydesk.routing.schemas import Propensity, RoutingConfig

TIMES = "\u00d7"
"""The multiplication sign of the explanations."""


@dataclass(frozen=True, slots=True)
class Signals:
    """What the product knows about this contact; anything unknown stays at its default."""

    intent: str | None = None
    intent_signals: frozenset[str] = frozenset()
    """From the bot pack: purchase_intent, churn_risk, complaint."""
    sentiment: float = 0.0
    """-1 (angry) … 1 (happy), from the bot's sentiment analysis."""
    tier: str | None = None
    tenure_years: float = 0.0
    recent_orders: int = 0
    """Orders in the last 90 days."""
    contacts_7d: int = 1
    """Contacts (journeys opened or reopened) in the last 7 days, this one included."""
    channels_tried: int = 1
    sla_breached: bool = False


@dataclass(frozen=True, slots=True)
class CustomerValue:
    lifetime_value: float = 0.0
    annual_value: float | None = None
    """Explicit annual value; wins over lifetime value / expected tenure."""
    average_order_value: float | None = None
    """Mean of the customer's orders in the workspace currency; None without orders."""


@dataclass(frozen=True, slots=True)
class ValueEstimate:
    value: float
    churn: float
    purchase: float
    annual_value: float
    order_value: float
    currency: str
    churn_reasons: tuple[str, ...] = ()
    purchase_reasons: tuple[str, ...] = ()
    features: Mapping[str, float] = field(default_factory=dict)

    @property
    def revenue_at_risk(self) -> float:
        return self.churn * self.annual_value

    @property
    def revenue_potential(self) -> float:
        return self.purchase * self.order_value

    def explanation(self) -> str:
        """E.g. ``value 412 EUR: churn risk 0.31 x annual value 1,200 EUR (complaint, 3rd
        contact in 7 days) + purchase 0.05 x 740 EUR`` (with a real multiplication sign)."""
        cur = self.currency
        churn = f"churn risk {self.churn:.2f} {TIMES} annual value {money(self.annual_value, cur)}"
        if self.churn_reasons:
            churn += f" ({', '.join(self.churn_reasons)})"
        purchase = f"purchase {self.purchase:.2f} {TIMES} {money(self.order_value, cur)}"
        if self.purchase_reasons:
            purchase += f" ({', '.join(self.purchase_reasons)})"
        return f"value {money(self.value, cur)}: {churn} + {purchase}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": round(self.value, 2),
            "churn": round(self.churn, 4),
            "purchase": round(self.purchase, 4),
            "annual_value": round(self.annual_value, 2),
            "order_value": round(self.order_value, 2),
            "currency": self.currency,
            "features": dict(self.features),
            "churn_reasons": list(self.churn_reasons),
            "purchase_reasons": list(self.purchase_reasons),
        }


_CHURN_REASONS = re.compile(r"churn risk [0-9.]+ \S+ annual value [^(+]*\(([^)]*)\) \+ purchase")


def churn_reasons_in(explanation: str) -> tuple[str, ...]:
    """The churn reasons written into an ``explanation()`` (for decisions stored before
    ``as_dict`` carried ``churn_reasons``); () when it names none."""
    found = _CHURN_REASONS.search(explanation or "")
    return tuple(r.strip() for r in found.group(1).split(", ") if r.strip()) if found else ()


def money(amount: float, currency: str) -> str:
    return f"{round(amount):,} {currency}"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def features(signals: Signals) -> dict[str, float]:
    """The model inputs, each bounded so no single signal runs away with the score."""
    return {
        "purchase_intent": 1.0 if "purchase_intent" in signals.intent_signals else 0.0,
        "churn_risk": 1.0 if "churn_risk" in signals.intent_signals else 0.0,
        "complaint": 1.0 if "complaint" in signals.intent_signals else 0.0,
        "negative_sentiment": min(1.0, max(0.0, -signals.sentiment)),
        "repeat_contacts": float(min(5, max(0, signals.contacts_7d - 1))),
        "channels_tried": float(min(4, max(0, signals.channels_tried - 1))),
        "sla_breach": 1.0 if signals.sla_breached else 0.0,
        "tenure_years": min(10.0, max(0.0, signals.tenure_years)),
        "recent_orders": float(min(10, max(0, signals.recent_orders))),
    }


def _logistic(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def propensity(model: Propensity, feats: Mapping[str, float], tier: str | None) -> float:
    return _evaluate(model, feats, Signals(tier=tier))[0]


def _evaluate(
    model: Propensity, feats: Mapping[str, float], signals: Signals
) -> tuple[float, tuple[str, ...]]:
    """The propensity, and the inputs that pushed it up, strongest first."""
    z = model.bias
    pushes: list[tuple[float, str]] = []
    for name, weight in model.weights.items():
        contribution = weight * feats.get(name, 0.0)
        z += contribution
        if contribution > 0:
            pushes.append((contribution, name))
    tier = signals.tier
    if tier and model.tiers:
        offset = model.tiers.get(tier.lower(), 0.0)
        z += offset
        if offset > 0:
            pushes.append((offset, "tier"))
    pushes.sort(key=lambda item: -item[0])
    labels = (f"{tier} tier" if name == "tier" else _label(name, signals) for _, name in pushes)
    return _logistic(z), tuple(dict.fromkeys(labels))


def _label(name: str, s: Signals) -> str:
    if name in ("purchase_intent", "churn_risk"):
        return (s.intent or "").replace("_", " ") or name.replace("_", " ")
    if name == "repeat_contacts":
        return f"{ordinal(s.contacts_7d)} contact in 7 days"
    if name == "channels_tried":
        return f"{s.channels_tried} channels tried"
    if name == "tenure_years":
        return f"{s.tenure_years:.1f} years a customer"
    if name == "recent_orders":
        return f"{s.recent_orders} orders in 90 days"
    return {"sla_breach": "SLA breached"}.get(name, name.replace("_", " "))


def estimate(
    signals: Signals, customer: CustomerValue, config: RoutingConfig, currency: str
) -> ValueEstimate:
    """Value = churn propensity * annual value + purchase propensity * expected order value."""
    feats = features(signals)
    churn, churn_reasons = _evaluate(config.coefficients.churn, feats, signals)
    purchase, purchase_reasons = _evaluate(config.coefficients.purchase, feats, signals)
    if customer.annual_value is not None:
        annual = max(0.0, customer.annual_value)
    else:
        annual = max(0.0, customer.lifetime_value) / config.expected_tenure_years
    order = (
        customer.average_order_value
        if customer.average_order_value is not None
        else config.default_order_value
    )
    order = max(0.0, order)
    return ValueEstimate(
        value=churn * annual + purchase * order,
        churn=churn,
        purchase=purchase,
        annual_value=annual,
        order_value=order,
        currency=currency,
        churn_reasons=churn_reasons,
        purchase_reasons=purchase_reasons,
        features=feats,
    )
