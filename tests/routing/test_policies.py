"""The four policies on the same scenarios, so their differences are visible."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relaydesk.routing.policies import PolicyInput, choose, is_complex
from relaydesk.routing.schemas import POLICIES, Override, RoutingConfig

# (scenario, intent, bot may resolve, human request, value)
SCENARIOS = [
    ("cheap order status", "order_status", True, False, 12.0),
    ("valuable order status", "order_status", True, False, 450.0),
    ("cheap complaint", "complaint", False, False, 30.0),
    ("valuable complaint", "complaint", False, False, 900.0),
    ("asks for a person", "order_status", True, True, 5.0),
    ("nothing recognised", None, False, False, 10.0),
]

EXPECTED = {
    "value": ["bot", "person", "person", "person", "person", "person"],
    "complexity": ["bot", "bot", "person", "person", "person", "bot"],
    "bot_first": ["bot", "bot", "bot", "bot", "person", "bot"],
    "human_first": ["person", "person", "person", "person", "person", "person"],
}


@pytest.mark.parametrize("policy", POLICIES)
def test_policies_on_the_same_scenarios(policy: str) -> None:
    config = RoutingConfig(policy=policy, threshold=100)
    targets = [
        choose(PolicyInput("web", intent, may, human, value, "EUR"), config).target
        for _, intent, may, human, value in SCENARIOS
    ]
    assert targets == EXPECTED[policy]


def test_the_policies_really_differ() -> None:
    assert len({tuple(v) for v in EXPECTED.values()}) == 4


def test_reasons_say_why() -> None:
    config = RoutingConfig(threshold=100)
    low = choose(PolicyInput("web", "order_status", True, False, 12, "EUR"), config)
    assert (low.reason, low.detail) == (
        "bot_resolvable",
        "value 12 EUR < threshold 100 EUR; the bot resolves order status",
    )
    high = choose(PolicyInput("web", "order_status", True, False, 450, "EUR"), config)
    assert high.reason == "value_above_threshold"
    assert high.detail == "value 450 EUR ≥ threshold 100 EUR"
    human = choose(PolicyInput("web", "order_status", True, True, 0, "EUR"), config)
    assert human.reason == "human_request"


def test_overrides_intent_beats_channel_beats_workspace() -> None:
    config = RoutingConfig(
        policy="value",
        threshold=100,
        channels={"voice": Override(policy="human_first"), "shop": Override(threshold=10)},
        intents={"delivery": Override(policy="bot_first"), "order_status": Override(complex=True)},
    )
    assert config.override("web", None) == ("value", 100)
    assert config.override("voice", "order_status") == ("human_first", 100)
    assert config.override("voice", "delivery") == ("bot_first", 100)
    assert config.override("shop", "billing") == ("value", 10)
    shop = choose(PolicyInput("shop", "order_status", True, False, 12, "EUR"), config)
    assert shop.target == "person"  # 12 ≥ the shop's threshold of 10
    assert is_complex("order_status", True, config)
    assert not is_complex("greeting", True, config)
    assert not is_complex(None, False, config)


@given(
    policy=st.sampled_from(POLICIES),
    intent=st.sampled_from([None, "order_status", "complaint", "greeting"]),
    may=st.booleans(),
    value=st.floats(0, 1e7),
    threshold=st.floats(0, 1e7),
)
def test_explicit_human_request_always_wins(
    policy: str, intent: str | None, may: bool, value: float, threshold: float
) -> None:
    config = RoutingConfig(policy=policy, threshold=threshold)
    outcome = choose(PolicyInput("web", intent, may, True, value, "EUR"), config)
    assert (outcome.target, outcome.reason) == ("person", "human_request")


@given(value=st.floats(0, 1e6), extra=st.floats(0, 1e6), may=st.booleans())
def test_value_policy_never_sends_more_valuable_work_to_the_bot(
    value: float, extra: float, may: bool
) -> None:
    config = RoutingConfig(threshold=100)
    cheap = choose(PolicyInput("web", "order_status", may, False, value, "EUR"), config)
    dear = choose(PolicyInput("web", "order_status", may, False, value + extra, "EUR"), config)
    assert not (cheap.target == "person" and dear.target == "bot")
