"""The bot's conversation: per-journey state and one pure step per customer message.

`respond(state, analysis, text, kit=..., channel=..., known_facts=..., now=...)` decides the
replies and whether to resolve or hand off; `take_turn` understands the message first (what
the worker and the simulator call); bot/actions.py persists the result. The policy is
documented in policy.py; the texts per language live in the pack's dialogue.yaml.
"""

from relaydesk.bot.dialogue.pipeline import take_turn
from relaydesk.bot.dialogue.policy import respond
from relaydesk.bot.dialogue.state import (
    BotReply,
    BotTurn,
    ChannelTraits,
    DialogueKit,
    DialogueState,
)
from relaydesk.bot.dialogue.texts import DEFAULT_TEXTS_PATH, DialogueTexts, Phrases

__all__ = [
    "DEFAULT_TEXTS_PATH",
    "BotReply",
    "BotTurn",
    "ChannelTraits",
    "DialogueKit",
    "DialogueState",
    "DialogueTexts",
    "Phrases",
    "respond",
    "take_turn",
]
