"""The trained models the live hub uses, built off the event loop, one per intents version.

A workspace without a ``bot:`` section uses the default pack; one with a section gets a model
trained on its pack (``bot/intents.py``), keyed by the section's version hash. Training takes
seconds, so it never runs in a request: ``relaydesk serve`` and ``relaydesk worker`` start
the default model at launch, applying a ``bot:`` section starts the new one in the worker,
and while a new version trains the hub keeps answering with the model it had.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from relaydesk import heap
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import Pack

DEFAULT_VERSION = "default"
KEEP_VERSIONS = 4
"""Trained versions kept in memory (the newest; a workspace rarely has more than two)."""


@dataclass(frozen=True)
class Trained:
    """A model and the pack it was trained on: the bot's intents, facts and articles."""

    version: str
    model: NluModel
    pack: Pack


class BotModels:
    def __init__(self, keep: int = KEEP_VERSIONS) -> None:
        self._futures: OrderedDict[str, Future[Trained]] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep

    def start(
        self, definition: Mapping[str, Any] | None = None, version: str = DEFAULT_VERSION
    ) -> Future[Trained]:
        """Begin training ``version`` in a daemon thread (once; again only after a failure).

        ``definition`` is the workspace's stored ``bot:`` section; None is the default pack.
        """
        with self._lock:
            future = self._futures.get(version)
            failed = future is not None and future.done() and future.exception() is not None
            if future is None or failed:
                future = Future()
                data = dict(definition) if definition is not None else None
                threading.Thread(
                    target=_train_into,
                    args=(future, data, version),
                    name=f"bot-model-{version[:8]}",
                    daemon=True,
                ).start()
                self._futures[version] = future
            self._futures.move_to_end(version)
            while len(self._futures) > self._keep:
                oldest = next(iter(self._futures))
                if oldest == version:
                    break
                del self._futures[oldest]
            return future

    def known(self, version: str) -> Future[Trained] | None:
        """The training of ``version`` if it was started (it may still run)."""
        with self._lock:
            return self._futures.get(version)

    def started(self) -> bool:
        """Whether any version's training was started in this process."""
        with self._lock:
            return bool(self._futures)

    async def current(self) -> NluModel:
        """The default pack's model."""
        return (await asyncio.wrap_future(self.start())).model


DEFAULT_MODELS = BotModels()
"""Models trained once per process per intents version, shared by the bot, routing and
``POST /api/v1/bot/parse``."""


def train(definition: Mapping[str, Any] | None, version: str = DEFAULT_VERSION) -> Trained:
    """Train synchronously (evaluation, tests, the simulator)."""
    from relaydesk.bot.intents import workspace_pack
    from relaydesk.bot.language import warm_up
    from relaydesk.bot.schemas import default_pack

    warm_up()
    pack = default_pack() if definition is None else workspace_pack(definition)
    return Trained(version, NluModel.from_pack(pack), pack)


def _train_into(
    future: Future[Trained], definition: Mapping[str, Any] | None, version: str
) -> None:
    try:
        trained = train(definition, version)
    except BaseException as exc:  # handed to every waiter
        future.set_exception(exc)
        return
    heap.settle("bot model trained")  # the model lives as long as the process
    future.set_result(trained)
