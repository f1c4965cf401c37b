"""Refitting the value model from outcomes: recovers the signals, refuses thin data."""

from __future__ import annotations

import math
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.routing.helpers import CHEAP, WORKSPACE, drain, post, setup

from relaydesk.hub import Hub
from relaydesk.routing.actions.settings import store_coefficients
from relaydesk.routing.fit import NotEnoughData, Sample, fit, training_samples
from relaydesk.routing.queries import load_context
from relaydesk.routing.schemas import FEATURES, Coefficients, RoutingConfig
from relaydesk.routing.value import Signals, features


def _samples(n: int, seed: int = 3) -> list[Sample]:
    """Outcomes drawn from a known truth: complaints churn, purchase intent buys."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        signals = Signals(
            intent_signals=frozenset(
                s for s in ("purchase_intent", "complaint", "churn_risk") if rng.random() < 0.3
            ),
            sentiment=rng.uniform(-1, 1),
            contacts_7d=rng.randint(1, 5),
            recent_orders=rng.randint(0, 4),
        )
        f = features(signals)
        churn_z = -2.5 + 2.0 * f["complaint"] + 1.5 * f["churn_risk"] + 0.5 * f["repeat_contacts"]
        buy_z = -2.5 + 3.0 * f["purchase_intent"] + 0.3 * f["recent_orders"]
        out.append(
            Sample(
                f,
                rng.random() < 1 / (1 + math.exp(-buy_z)),
                rng.random() < 1 / (1 + math.exp(-churn_z)),
            )
        )
    return out


def test_fit_recovers_the_signals() -> None:
    result = fit(_samples(3000), Coefficients())
    churn, purchase = result.coefficients.churn, result.coefficients.purchase
    assert result.samples == 3000 and result.purchases > 100 and result.churns > 100
    assert churn.weights["complaint"] > 1.0 and churn.weights["churn_risk"] > 0.8
    assert purchase.weights["purchase_intent"] > 2.0
    assert abs(purchase.weights["complaint"]) < 0.5  # no effect in the truth
    assert all(churn.weights[name] >= 0 for name in ("sla_breach", "channels_tried"))
    assert purchase.tiers == Coefficients().purchase.tiers  # tiers are kept
    RoutingConfig(coefficients=result.coefficients)  # usable as it is


def test_fit_refuses_thin_or_one_sided_data() -> None:
    with pytest.raises(NotEnoughData, match="50 resolved journeys with outcomes; need 200"):
        fit(_samples(50), Coefficients())
    no_churn = [Sample(s.features, s.purchased, False) for s in _samples(400)]
    with pytest.raises(NotEnoughData, match="0 churn outcomes of 400"):
        fit(no_churn, Coefficients())


async def test_samples_come_from_resolved_journeys_and_coefficients_are_stored(
    routed_hub: Hub, client: httpx.AsyncClient
) -> None:
    await setup(routed_hub)
    bought = await post(client, "m1", "c1@example.com", CHEAP)
    left = await post(client, "m2", "c2@example.com", CHEAP)
    await post(client, "m3", "c3@example.com", CHEAP)  # still open: not a sample
    await drain(routed_hub)
    for journey_id, outcome in ((bought, "purchase"), (left, "Cancelled")):
        answer = await client.post(
            f"/api/v1/journeys/{journey_id}/resolve", json={"outcome": outcome}
        )
        assert answer.status_code == 200, answer.text
    async with routed_hub.db.read() as session:
        samples = await training_samples(session)
    assert sorted((s.purchased, s.churned) for s in samples) == [(False, True), (True, False)]
    assert set(samples[0].features) == set(FEATURES)

    refit = fit(_samples(600), Coefficients())
    await routed_hub.db.transaction(lambda s: store_coefficients(s, refit.coefficients))
    async with routed_hub.db.read() as session:
        ctx = await load_context(session)
    assert ctx.config.coefficients == refit.coefficients
    assert ctx.config.threshold == 100  # the rest of the section is untouched

    # Applying the workspace file again (``relaydesk serve`` does at every start) keeps them.
    await setup(routed_hub, WORKSPACE.replace("threshold: 100", "threshold: 120"))
    async with routed_hub.db.read() as session:
        ctx = await load_context(session)
    assert ctx.config.coefficients == refit.coefficients and ctx.config.threshold == 120
    # A file that declares coefficients wins over fitted ones (and the store says so).
    text = WORKSPACE + "  coefficients:\n    purchase:\n      bias: -1.0\n"
    await setup(routed_hub, text)
    assert not await routed_hub.db.transaction(lambda s: store_coefficients(s, refit.coefficients))
    async with routed_hub.db.read() as session:
        ctx = await load_context(session)
    assert ctx.config.coefficients.purchase.bias == -1.0


def test_the_fit_command_refuses_thin_data_and_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fit.db'}"
    env = {**os.environ, "RELAYDESK_DATABASE_URL": url}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "relaydesk.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    refused = cli("routing", "fit", "--apply")
    assert refused.returncode != 0 and refused.stdout == ""
    assert "not enough data to refit" in refused.stderr
    with sqlite3.connect(tmp_path / "fit.db") as conn:
        stored = conn.execute("select count(*) from workspace_settings").fetchone()[0]
    assert stored == 0  # --apply stored nothing
    bad = cli("routing", "fit", "--min-samples", "3")
    assert bad.returncode == 2 and "min-samples" in bad.stderr
