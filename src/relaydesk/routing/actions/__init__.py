"""The only code that writes routing state, split by concept: routing and reserving
(assign.py), agents' loads (loads.py), answers to offers and presence (offers.py), journeys
leaving people (transfer.py), the workspace section (settings.py)."""

from relaydesk.routing.actions.assign import (
    ACTOR,
    Routed,
    assign_waiting,
    enqueue,
    relax_waiting,
    route_journey,
    take_handoff,
)
from relaydesk.routing.actions.loads import OFFER_TIMER, RELAX_TIMER, offer_timer_key
from relaydesk.routing.actions.offers import (
    AgentNotFound,
    Answered,
    OfferClosed,
    OfferNotFound,
    PresenceSet,
    accept_offer,
    agent_changed,
    decline_offer,
    expire_offer,
    set_presence,
)
from relaydesk.routing.actions.settings import apply_routing
from relaydesk.routing.actions.transfer import (
    Transferred,
    TransferRefused,
    count_outside_owner,
    end_holding,
    journey_closed,
    transfer,
)

__all__ = [
    "ACTOR",
    "OFFER_TIMER",
    "RELAX_TIMER",
    "AgentNotFound",
    "Answered",
    "OfferClosed",
    "OfferNotFound",
    "PresenceSet",
    "Routed",
    "TransferRefused",
    "Transferred",
    "accept_offer",
    "agent_changed",
    "apply_routing",
    "assign_waiting",
    "count_outside_owner",
    "decline_offer",
    "end_holding",
    "enqueue",
    "expire_offer",
    "journey_closed",
    "offer_timer_key",
    "relax_waiting",
    "route_journey",
    "set_presence",
    "take_handoff",
    "transfer",
]
