"""Import every table so metadata (and Alembic) sees the whole schema."""

from relaydesk.agents.models import Agent, ApiToken, Team, agent_teams
from relaydesk.audit.models import AuditEntry
from relaydesk.bot.models import BotDialogue
from relaydesk.bus import Event, OutboxEntry
from relaydesk.canned.models import CannedReply
from relaydesk.channels.models import Channel
from relaydesk.channels.webchat.models import WebchatVerification
from relaydesk.console.models import ConsoleSession, SignInFailure
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
from relaydesk.journeys.models import Conversation, Journey, JourneyNote, Message
from relaydesk.kb.models import KbArticle, KbVariant
from relaydesk.outreach.models import Notification, Survey, SurveyAnswer, UpdatePlan
from relaydesk.routing.models import AgentLoad, Assignment, QueueEntryRow, RoutingDecision
from relaydesk.sla.models import SlaClock
from relaydesk.timers import Timer
from relaydesk.workspace.models import WorkspaceSetting

__all__ = [
    "Agent",
    "AgentLoad",
    "ApiToken",
    "Assignment",
    "AuditEntry",
    "BotDialogue",
    "CannedReply",
    "Channel",
    "Consent",
    "ConsoleSession",
    "Conversation",
    "Customer",
    "CustomerMerge",
    "Event",
    "Identity",
    "IdentityClaim",
    "Journey",
    "JourneyNote",
    "KbArticle",
    "KbVariant",
    "MergeSuggestion",
    "Message",
    "Notification",
    "Order",
    "OutboxEntry",
    "QueueEntryRow",
    "RoutingDecision",
    "SignInFailure",
    "SlaClock",
    "Survey",
    "SurveyAnswer",
    "Team",
    "Timer",
    "UpdatePlan",
    "WebchatVerification",
    "WorkspaceSetting",
    "agent_teams",
    "metadata",
]
