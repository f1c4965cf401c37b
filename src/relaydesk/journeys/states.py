"""The only place journey and conversation statuses may change: explicit transition tables."""

from __future__ import annotations

from enum import StrEnum


class JourneyStatus(StrEnum):
    OPEN = "open"
    WAITING = "waiting"
    """Waiting on the customer; a customer message makes it open again."""
    PENDING = "pending"
    """Waiting on the company (investigation, refund in progress, repair): the customer gets
    proactive status updates (outreach/); a customer message keeps it pending."""
    RESOLVED = "resolved"
    COMBINED = "combined"
    """Folded into another journey of the same person (after a customer merge); redirects."""


class JourneyTrigger(StrEnum):
    CUSTOMER_MESSAGE = "customer_message"
    WAIT_ON_CUSTOMER = "wait_on_customer"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    COMBINE = "combine"
    WAIT_ON_COMPANY = "wait_on_company"
    """An agent says the company owes the next step (investigation, refund, repair)."""
    RESUME = "resume"
    """The company's part is done (or was set by mistake): back to open."""


class ConversationStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ConversationTrigger(StrEnum):
    CLOSE = "close"
    REOPEN = "reopen"


class InvalidTransition(ValueError):
    def __init__(self, machine: str, status: str, trigger: str) -> None:
        super().__init__(f"{machine}: cannot {trigger} from {status}")
        self.status = status
        self.trigger = trigger


JOURNEY_TRANSITIONS: dict[tuple[JourneyStatus, JourneyTrigger], JourneyStatus] = {
    (JourneyStatus.OPEN, JourneyTrigger.CUSTOMER_MESSAGE): JourneyStatus.OPEN,
    (JourneyStatus.WAITING, JourneyTrigger.CUSTOMER_MESSAGE): JourneyStatus.OPEN,
    (JourneyStatus.OPEN, JourneyTrigger.WAIT_ON_CUSTOMER): JourneyStatus.WAITING,
    (JourneyStatus.OPEN, JourneyTrigger.RESOLVE): JourneyStatus.RESOLVED,
    (JourneyStatus.WAITING, JourneyTrigger.RESOLVE): JourneyStatus.RESOLVED,
    (JourneyStatus.RESOLVED, JourneyTrigger.REOPEN): JourneyStatus.OPEN,
    (JourneyStatus.OPEN, JourneyTrigger.COMBINE): JourneyStatus.COMBINED,
    (JourneyStatus.WAITING, JourneyTrigger.COMBINE): JourneyStatus.COMBINED,
    (JourneyStatus.OPEN, JourneyTrigger.WAIT_ON_COMPANY): JourneyStatus.PENDING,
    (JourneyStatus.WAITING, JourneyTrigger.WAIT_ON_COMPANY): JourneyStatus.PENDING,
    (JourneyStatus.PENDING, JourneyTrigger.WAIT_ON_COMPANY): JourneyStatus.PENDING,
    (JourneyStatus.PENDING, JourneyTrigger.CUSTOMER_MESSAGE): JourneyStatus.PENDING,
    (JourneyStatus.PENDING, JourneyTrigger.RESUME): JourneyStatus.OPEN,
    (JourneyStatus.PENDING, JourneyTrigger.WAIT_ON_CUSTOMER): JourneyStatus.WAITING,
    (JourneyStatus.PENDING, JourneyTrigger.RESOLVE): JourneyStatus.RESOLVED,
    (JourneyStatus.PENDING, JourneyTrigger.COMBINE): JourneyStatus.COMBINED,
}

CONVERSATION_TRANSITIONS: dict[
    tuple[ConversationStatus, ConversationTrigger], ConversationStatus
] = {
    (ConversationStatus.OPEN, ConversationTrigger.CLOSE): ConversationStatus.CLOSED,
    (ConversationStatus.CLOSED, ConversationTrigger.REOPEN): ConversationStatus.OPEN,
}


class JourneyOwner(StrEnum):
    """Who is handling the journey right now (``owner`` in the API)."""

    UNASSIGNED = "unassigned"
    BOT = "bot"
    QUEUE = "queue"
    """Waiting in the routing queue for a person."""
    AGENT = "agent"


OWNER_TRANSITIONS: frozenset[tuple[JourneyOwner, JourneyOwner]] = frozenset(
    {
        (JourneyOwner.UNASSIGNED, JourneyOwner.BOT),
        (JourneyOwner.UNASSIGNED, JourneyOwner.QUEUE),
        (JourneyOwner.UNASSIGNED, JourneyOwner.AGENT),
        (JourneyOwner.BOT, JourneyOwner.QUEUE),
        (JourneyOwner.BOT, JourneyOwner.AGENT),
        (JourneyOwner.QUEUE, JourneyOwner.AGENT),
        (JourneyOwner.QUEUE, JourneyOwner.BOT),
        (JourneyOwner.AGENT, JourneyOwner.QUEUE),
        (JourneyOwner.AGENT, JourneyOwner.AGENT),
        (JourneyOwner.AGENT, JourneyOwner.BOT),
    }
)
"""Allowed owner changes; agent → agent is a transfer. Nothing goes back to unassigned."""


ACTIVE_JOURNEY_STATUSES = (
    JourneyStatus.OPEN.value,
    JourneyStatus.WAITING.value,
    JourneyStatus.PENDING.value,
)


def next_journey_status(status: str, trigger: JourneyTrigger) -> JourneyStatus:
    try:
        return JOURNEY_TRANSITIONS[(JourneyStatus(status), trigger)]
    except (KeyError, ValueError):
        raise InvalidTransition("journey", status, trigger.value) from None


def next_conversation_status(status: str, trigger: ConversationTrigger) -> ConversationStatus:
    try:
        return CONVERSATION_TRANSITIONS[(ConversationStatus(status), trigger)]
    except (KeyError, ValueError):
        raise InvalidTransition("conversation", status, trigger.value) from None


def check_owner_change(current: str, new: JourneyOwner) -> JourneyOwner:
    """Raise ``InvalidTransition`` unless ``current → new`` is in ``OWNER_TRANSITIONS``."""
    try:
        allowed = (JourneyOwner(current), new) in OWNER_TRANSITIONS
    except ValueError:
        allowed = False
    if not allowed:
        raise InvalidTransition("journey owner", current, f"hand to {new.value}")
    return new
