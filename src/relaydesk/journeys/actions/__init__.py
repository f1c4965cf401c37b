"""The only code that writes journeys, conversations and messages, split by concept."""

from relaydesk.journeys.actions.batch import ingest_inbound, ingest_many
from relaydesk.journeys.actions.inbound import Inbound, IngestResult, find_duplicate
from relaydesk.journeys.actions.lifecycle import (
    JourneyNotFound,
    resolve_journey,
    wait_on_customer,
)
from relaydesk.journeys.actions.notes import InvalidNote, add_note
from relaydesk.journeys.actions.ownership import change_owner
from relaydesk.journeys.actions.replies import Reply, ReplyRefused, queue_reply

__all__ = [
    "Inbound",
    "IngestResult",
    "InvalidNote",
    "JourneyNotFound",
    "Reply",
    "ReplyRefused",
    "add_note",
    "change_owner",
    "find_duplicate",
    "ingest_inbound",
    "ingest_many",
    "queue_reply",
    "resolve_journey",
    "wait_on_customer",
]
