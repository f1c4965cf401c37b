"""SLA flow tests run routing and the bot with the shared NLU model."""

from tests.routing.conftest import nlu_model, routed_hub

__all__ = ["nlu_model", "routed_hub"]
