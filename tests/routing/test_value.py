"""The value model: propensities, annual and order value, explanations, monotonicity."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from relaydesk.routing.schemas import RISK_FEATURES, Coefficients, Propensity, RoutingConfig
from relaydesk.routing.value import (
    TIMES,
    CustomerValue,
    Signals,
    churn_reasons_in,
    estimate,
    features,
    money,
    ordinal,
    propensity,
)

CONFIG = RoutingConfig()

signals_st = st.builds(
    Signals,
    intent=st.sampled_from([None, "complaint", "product_question", "order_status"]),
    intent_signals=st.frozensets(st.sampled_from(["purchase_intent", "churn_risk", "complaint"])),
    sentiment=st.floats(-1, 1),
    tier=st.sampled_from([None, "gold", "bronze", "VIP"]),
    tenure_years=st.floats(0, 30),
    recent_orders=st.integers(0, 40),
    contacts_7d=st.integers(1, 12),
    channels_tried=st.integers(1, 6),
    sla_breached=st.booleans(),
)
money_st = st.floats(0, 1_000_000)


def test_issue_example_reads_like_the_issue() -> None:
    signals = Signals(
        intent="complaint", intent_signals=frozenset({"complaint", "churn_risk"}), contacts_7d=3
    )
    customer = CustomerValue(lifetime_value=3600, average_order_value=740)
    est = estimate(signals, customer, CONFIG, "EUR")
    # churn: -3.2 + 1.0 (churn_risk) + 0.8 (complaint) + 0.35 * 2 (contacts) = -0.7
    assert est.churn == pytest.approx(1 / (1 + math.exp(0.7)))
    assert est.annual_value == pytest.approx(1200)  # 3,600 over 3 expected years
    assert est.order_value == 740
    assert est.value == pytest.approx(est.churn * 1200 + est.purchase * 740)
    text = est.explanation()
    assert text.startswith(f"value {round(est.value):,} EUR: churn risk 0.33 {TIMES} annual value")
    assert "1,200 EUR (complaint, 3rd contact in 7 days)" in text
    assert f"+ purchase {est.purchase:.2f} {TIMES} 740 EUR" in text


@given(signals_st, money_st)
def test_the_churn_reasons_are_stored_and_read_back_from_the_explanation(
    signals: Signals, lifetime: float
) -> None:
    """Decisions keep the reasons in ``inputs.value``; older ones only in the explanation."""
    est = estimate(signals, CustomerValue(lifetime_value=lifetime), CONFIG, "EUR")
    assert est.as_dict()["churn_reasons"] == list(est.churn_reasons)
    assert est.as_dict()["purchase_reasons"] == list(est.purchase_reasons)
    assert churn_reasons_in(est.explanation()) == est.churn_reasons


def test_explicit_annual_value_and_workspace_default_order_value() -> None:
    est = estimate(Signals(), CustomerValue(lifetime_value=9000, annual_value=500), CONFIG, "SEK")
    assert est.annual_value == 500
    assert est.order_value == CONFIG.default_order_value
    assert est.explanation().endswith(f"{TIMES} {round(CONFIG.default_order_value)} SEK")
    assert est.churn_reasons == () and est.purchase_reasons == ()


def test_purchase_reasons_name_the_intent_and_tier() -> None:
    signals = Signals(
        intent="product_question", intent_signals=frozenset({"purchase_intent"}), tier="Gold"
    )
    est = estimate(signals, CustomerValue(), CONFIG, "EUR")
    assert est.purchase_reasons == ("product question", "Gold tier")
    assert est.purchase > estimate(Signals(), CustomerValue(), CONFIG, "EUR").purchase


def test_features_are_bounded() -> None:
    f = features(
        Signals(sentiment=-5, contacts_7d=99, channels_tried=99, tenure_years=80, recent_orders=99)
    )
    assert f["negative_sentiment"] == 1.0
    assert f["repeat_contacts"] == 5
    assert f["channels_tried"] == 4
    assert f["tenure_years"] == 10
    assert f["recent_orders"] == 10
    assert features(Signals(sentiment=0.8))["negative_sentiment"] == 0.0


def test_formatting_helpers() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "111th"
    ]  # fmt: skip
    assert money(1234.6, "EUR") == "1,235 EUR"


def test_coefficients_refuse_unknown_features_and_negative_risk_weights() -> None:
    with pytest.raises(ValidationError, match="unknown feature 'moon_phase'"):
        Propensity(bias=0, weights={"moon_phase": 1})
    with pytest.raises(ValidationError, match=r"churn\.weights\.complaint: must not be negative"):
        Coefficients(churn=Propensity(bias=-1, weights={"complaint": -0.5}))


def test_propensity_extremes_do_not_overflow() -> None:
    model = Propensity(bias=10_000)
    assert propensity(model, {}, None) == 1.0
    assert propensity(Propensity(bias=-10_000), {}, None) == 0.0


@given(signals_st, money_st, money_st, money_st, st.floats(0, 1_000_000))
def test_value_is_monotone_in_money(
    signals: Signals, ltv: float, order: float, extra: float, annual: float
) -> None:
    base = estimate(signals, CustomerValue(ltv, None, order), CONFIG, "EUR")
    assert base.value >= 0
    more_ltv = estimate(signals, CustomerValue(ltv + extra, None, order), CONFIG, "EUR")
    more_order = estimate(signals, CustomerValue(ltv, None, order + extra), CONFIG, "EUR")
    assert more_ltv.value >= base.value
    assert more_order.value >= base.value
    explicit = estimate(signals, CustomerValue(ltv, annual, order), CONFIG, "EUR")
    explicit_more = estimate(signals, CustomerValue(ltv, annual + extra, order), CONFIG, "EUR")
    assert explicit_more.value >= explicit.value


@given(
    signals_st,
    st.sampled_from(RISK_FEATURES),
    st.dictionaries(st.sampled_from(RISK_FEATURES), st.floats(0, 5)),
)
def test_churn_risk_never_falls_when_trouble_grows(
    signals: Signals, feature: str, weights: dict[str, float]
) -> None:
    """For any coefficients the schema accepts (risk weights ≥ 0), more trouble → more risk."""
    config = RoutingConfig(
        coefficients=Coefficients(
            churn=Propensity(bias=-2, weights={**weights, "tenure_years": -1})
        )
    )
    worse = {
        "churn_risk": replace(signals, intent_signals=signals.intent_signals | {"churn_risk"}),
        "complaint": replace(signals, intent_signals=signals.intent_signals | {"complaint"}),
        "negative_sentiment": replace(signals, sentiment=max(-1.0, signals.sentiment - 0.3)),
        "repeat_contacts": replace(signals, contacts_7d=signals.contacts_7d + 1),
        "channels_tried": replace(signals, channels_tried=signals.channels_tried + 1),
        "sla_breach": replace(signals, sla_breached=True),
    }[feature]
    customer = CustomerValue(1000, None, 100)
    assert (
        estimate(worse, customer, config, "EUR").churn
        >= estimate(signals, customer, config, "EUR").churn
    )


@given(signals_st, money_st)
def test_value_with_more_churn_signal_and_annual_dominating_order_never_falls(
    signals: Signals, ltv: float
) -> None:
    """With no order value at stake, value is churn * annual value: monotone in risk."""
    customer = CustomerValue(ltv, None, 0.0)
    worse = replace(signals, contacts_7d=signals.contacts_7d + 1, sla_breached=True)
    assert (
        estimate(worse, customer, CONFIG, "EUR").value
        >= estimate(signals, customer, CONFIG, "EUR").value
    )
