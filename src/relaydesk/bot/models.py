"""The bot's memory of each journey it talks on: dialogue state between turns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from relaydesk.db import Base


class BotDialogue(Base):
    """One row per journey the bot has spoken on; written only by bot/actions.py.

    ``last_message_id`` is the last customer message the bot answered: a retried event, or the
    same message reached through ``OwnerChanged`` too, finds it handled and sends nothing.
    """

    __tablename__ = "bot_dialogues"

    journey_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("journeys.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """DialogueState.as_dict(): topic, facts asked, articles offered, open question, turns."""
    last_message_id: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime]
