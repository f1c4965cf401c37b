"""Channel tests exercise the channel layer: what arrives, what is stored, what the provider
receives. The bot and the router would answer customers too (and so add provider requests),
so here they are left out; they have their own tests, and a module that wants the whole hub
(test_cross_channel_journey.py) overrides ``channel_layer_only`` with a fixture doing nothing.
"""

from __future__ import annotations

import pytest

from relaydesk import bus

OTHER_LAYERS = ("relaydesk.bot.", "relaydesk.routing.")


@pytest.fixture(autouse=True)
def channel_layer_only(monkeypatch: pytest.MonkeyPatch) -> None:
    bus.load_listeners()
    kept = {
        event: [listener for listener in bucket if not listener.name.startswith(OTHER_LAYERS)]
        for event, bucket in bus._listeners.items()
    }
    monkeypatch.setattr(bus, "_listeners", kept)
