"""Routing tests share one NLU model (trained once per session) with the hub under test."""

from __future__ import annotations

import pytest

from relaydesk.bot.listeners import BotRuntime, use_runtime
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import load_pack
from relaydesk.hub import Hub


@pytest.fixture(scope="session")
def nlu_model() -> NluModel:
    return NluModel.from_pack(load_pack())


@pytest.fixture
def routed_hub(hub: Hub, nlu_model: NluModel) -> Hub:
    """The hub, its bot runtime using the shared model (no training per test)."""
    use_runtime(hub, BotRuntime(model=nlu_model))
    return hub
