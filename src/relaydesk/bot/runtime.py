"""The trained model the live hub uses, built once per process off the event loop.

Workspaces without intents of their own use the default pack (issue: per-workspace intents
from the workspace file come with the dialogue).
"""

from __future__ import annotations

import asyncio

from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import load_pack


class BotModels:
    def __init__(self) -> None:
        self._model: NluModel | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> NluModel:
        if self._model is None:
            async with self._lock:
                if self._model is None:
                    self._model = await asyncio.to_thread(_train_default)
        return self._model


def _train_default() -> NluModel:
    from relaydesk.bot.language import warm_up

    warm_up()
    return NluModel.from_pack(load_pack())
