"""One whole bot turn as a pure call: understand the message, then decide.

The worker (bot/listeners.py) and the simulator both call ``take_turn``, so a simulated
customer meets exactly the bot a real one does; only persisting the result differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from relaydesk.bot.dialogue.policy import respond
from relaydesk.bot.dialogue.state import BotTurn, ChannelTraits, DialogueKit, DialogueState
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.turn import TurnAnalysis, analyse_turn


def take_turn(
    model: NluModel,
    kit: DialogueKit,
    state: DialogueState,
    text: str,
    *,
    channel: ChannelTraits,
    known_facts: Mapping[str, Any] | None = None,
    previous: Sequence[str] = (),
    language_hint: str | None = None,
    requests_human: bool = False,
    payload: str | None = None,
    now: datetime,
) -> tuple[TurnAnalysis, BotTurn]:
    """The analysis of ``text`` and the bot's turn in answer to it.

    The language hint is the dialogue's language, else ``language_hint`` (e.g. the customer's
    locale), when the model knows it: one-word answers ("ja", "1") keep the conversation's
    language.
    """
    hint = state.language or language_hint
    known = {k: str(v) for k, v in (known_facts or {}).items() if v not in (None, "")}
    analysis = analyse_turn(
        model,
        kit.pack,
        kit.kb,
        text,
        language=hint if hint in model.languages else None,
        known_facts=known,
        previous=previous,
    )
    turn = respond(
        state,
        analysis,
        text,
        kit=kit,
        channel=channel,
        known_facts=known,
        requests_human=requests_human,
        payload=payload,
        now=now,
    )
    return analysis, turn
