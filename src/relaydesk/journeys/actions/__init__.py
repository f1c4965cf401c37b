"""The only code that writes journeys, conversations and messages, split by concept."""

from relaydesk.journeys.actions.inbound import IngestResult, find_duplicate, ingest_inbound
from relaydesk.journeys.actions.lifecycle import (
    JourneyNotFound,
    resolve_journey,
    wait_on_customer,
)
from relaydesk.journeys.actions.ownership import change_owner
from relaydesk.journeys.actions.replies import Reply, ReplyRefused, queue_reply

__all__ = [
    "IngestResult",
    "JourneyNotFound",
    "Reply",
    "ReplyRefused",
    "change_owner",
    "find_duplicate",
    "ingest_inbound",
    "queue_reply",
    "resolve_journey",
    "wait_on_customer",
]
