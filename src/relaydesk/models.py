"""Import every table so metadata (and Alembic) sees the whole schema."""

from relaydesk.agents.models import Agent, ApiToken, Team, agent_teams
from relaydesk.bus import Event, OutboxEntry
from relaydesk.channels.models import Channel
from relaydesk.channels.webchat.models import WebchatVerification
from relaydesk.customers.models import (
    Consent,
    Customer,
    CustomerMerge,
    Identity,
    IdentityClaim,
    MergeSuggestion,
    Order,
)
from relaydesk.db import metadata
from relaydesk.journeys.models import Conversation, Journey, Message
from relaydesk.workspace.models import WorkspaceSetting

__all__ = [
    "Agent",
    "ApiToken",
    "Channel",
    "Consent",
    "Conversation",
    "Customer",
    "CustomerMerge",
    "Event",
    "Identity",
    "IdentityClaim",
    "Journey",
    "MergeSuggestion",
    "Message",
    "Order",
    "OutboxEntry",
    "Team",
    "WebchatVerification",
    "WorkspaceSetting",
    "agent_teams",
    "metadata",
]
