"""The trained model the live hub uses, built once per process off the event loop.

Workspaces without intents of their own use the default pack. Training takes seconds, so
``relaydesk serve`` and ``relaydesk worker`` start it at launch (``start()``) and the first
customer never waits for it.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import load_pack


class BotModels:
    def __init__(self) -> None:
        self._future: Future[NluModel] | None = None
        self._lock = threading.Lock()

    def start(self) -> Future[NluModel]:
        """Begin training in a daemon thread (once; again only after a failure)."""
        with self._lock:
            failed = (
                self._future is not None
                and self._future.done()
                and self._future.exception() is not None
            )
            if self._future is None or failed:
                future: Future[NluModel] = Future()

                def train() -> None:
                    try:
                        future.set_result(_train_default())
                    except BaseException as exc:  # handed to every waiter
                        future.set_exception(exc)

                threading.Thread(target=train, name="bot-model", daemon=True).start()
                self._future = future
            return self._future

    async def current(self) -> NluModel:
        return await asyncio.wrap_future(self.start())


DEFAULT_MODELS = BotModels()
"""The default pack's model, trained once per process and shared by the bot, routing and
``POST /api/v1/bot/parse``."""


def _train_default() -> NluModel:
    from relaydesk.bot.language import warm_up

    warm_up()
    return NluModel.from_pack(load_pack())
