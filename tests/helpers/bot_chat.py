"""A customer talking to the bot, for the dialogue tests: the real model, pack and texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relaydesk.bot.dialogue import (
    BotTurn,
    ChannelTraits,
    DialogueKit,
    DialogueState,
    DialogueTexts,
    take_turn,
)
from relaydesk.bot.kb import KnowledgeBase
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import Pack

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BUTTONS = ChannelTraits(buttons=True)
PLAIN = ChannelTraits(buttons=False)


@pytest.fixture(scope="module")
def texts() -> DialogueTexts:
    return DialogueTexts.load()


@pytest.fixture(scope="module")
def kit(pack: Pack, kb: KnowledgeBase, texts: DialogueTexts) -> DialogueKit:
    return DialogueKit(pack, kb, texts, "https://shop.example")


class Chat:
    """A customer talking to the bot: analysis, decision, and what the worker would keep."""

    def __init__(
        self,
        model: NluModel,
        kit: DialogueKit,
        channel: ChannelTraits = BUTTONS,
        known: dict[str, str] | None = None,
    ) -> None:
        self.model, self.kit, self.channel = model, kit, channel
        self.state = DialogueState()
        self.known = dict(known or {})
        self.previous: list[str] = []
        self.now = NOW

    def say(self, text: str, *, requests_human: bool = False) -> BotTurn:
        _, turn = take_turn(
            self.model,
            self.kit,
            self.state,
            text,
            channel=self.channel,
            known_facts=self.known,
            previous=self.previous,
            requests_human=requests_human,
            now=self.now,
        )
        self.known.update(turn.facts)
        self.state = turn.state
        self.previous.append(text)
        self.now += timedelta(seconds=30)
        return turn


def text_of(turn: BotTurn) -> str:
    [reply] = turn.replies
    return reply.text
