"""The bot's understanding: language, intent, entities, sentiment, human requests, knowledge.

Everything here is pure (no database, network or clock) so the hub and the simulator run
the same code. Typical use::

    pack = load_pack()
    model = NluModel.from_pack(pack)
    model.parse("gdzie jest moje zamówienie #12345?").as_dict()
"""

from relaydesk.bot.entities import Entity, extract_entities
from relaydesk.bot.human_request import HumanRequest, detect, is_human_request
from relaydesk.bot.kb import KbMatch, KnowledgeBase
from relaydesk.bot.language import SUPPORTED, detect_language
from relaydesk.bot.nlu import NluModel, ParseResult
from relaydesk.bot.pack import (
    Article,
    ArticleVariant,
    FactSpec,
    IntentSpec,
    Pack,
    PackError,
    load_pack,
)
from relaydesk.bot.sentiment import Sentiment, analyse
from relaydesk.bot.text import redact
from relaydesk.bot.turn import TurnAnalysis, analyse_turn

__all__ = [
    "SUPPORTED",
    "Article",
    "ArticleVariant",
    "Entity",
    "FactSpec",
    "HumanRequest",
    "IntentSpec",
    "KbMatch",
    "KnowledgeBase",
    "NluModel",
    "Pack",
    "PackError",
    "ParseResult",
    "Sentiment",
    "TurnAnalysis",
    "analyse",
    "analyse_turn",
    "detect",
    "detect_language",
    "extract_entities",
    "is_human_request",
    "load_pack",
    "redact",
]
