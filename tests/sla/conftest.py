"""SLA flow tests run routing and the bot with the shared NLU model; console fixtures too."""

from tests.console.conftest import browser, make_agent
from tests.routing.conftest import nlu_model, routed_hub

__all__ = ["browser", "make_agent", "nlu_model", "routed_hub"]
