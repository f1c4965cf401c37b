"""Runs the receivers of channels that listen or poll themselves (SMTP, IMAP).

Receivers run beside the worker (one place per install), hand what they receive to the same
path as webhooks (``process_webhook`` in one transaction), restart with backoff when they
fail, and follow configuration changes (re-read every ``REFRESH`` seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from relaydesk.channels.actions import process_webhook, record_channel_error
from relaydesk.channels.base import ChannelAdapter, ParsedWebhook
from relaydesk.channels.models import Channel
from relaydesk.channels.registry import KINDS, build_adapter
from relaydesk.hub import Hub
from relaydesk.workspace.config import load_workspace_config

log = logging.getLogger("relaydesk.receivers")

REFRESH = 10.0
MAX_RESTART_DELAY = 300.0


@dataclass
class _Running:
    fingerprint: str
    stop: asyncio.Event
    task: asyncio.Task[None]


def _fingerprint(channel: Channel) -> str:
    data = json.dumps([channel.kind, channel.settings, channel.enabled], sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()


class Receivers:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._running: dict[uuid.UUID, _Running] = {}
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="relaydesk-receivers")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
        for running in self._running.values():
            running.stop.set()
        for running in self._running.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(running.task, timeout=10)
        self._running.clear()

    async def _supervise(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.refresh()
            except Exception:
                log.exception("could not refresh channel receivers")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=REFRESH)

    async def refresh(self) -> None:
        kinds = [kind for kind, cls in KINDS.items() if cls.has_receiver]
        if not kinds:
            return
        async with self.hub.db.read() as session:
            channels = (
                await session.scalars(
                    select(Channel).where(Channel.kind.in_(kinds), Channel.enabled.is_(True))
                )
            ).all()
        wanted = {c.id: c for c in channels}
        for channel_id in list(self._running):
            running = self._running[channel_id]
            channel = wanted.get(channel_id)
            if channel is None or _fingerprint(channel) != running.fingerprint:
                running.stop.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(running.task, timeout=10)
                del self._running[channel_id]
        for channel_id, channel in wanted.items():
            if channel_id not in self._running:
                stop = asyncio.Event()
                task = asyncio.create_task(
                    self._run(channel, stop), name=f"receiver-{channel.name}"
                )
                self._running[channel_id] = _Running(_fingerprint(channel), stop, task)

    async def _run(self, channel: Channel, stop: asyncio.Event) -> None:
        delay = 1.0
        while not stop.is_set():
            try:
                adapter: ChannelAdapter = build_adapter(
                    channel.name, channel.kind, channel.settings
                )
                await adapter.receive(self._submitter(channel), stop)
                delay = 1.0
            except Exception as exc:
                problem = f"receiver: {type(exc).__name__}: {exc}"[:1000]
                log.warning("receiver of channel %s failed: %s", channel.name, type(exc).__name__)
                with contextlib.suppress(Exception):
                    await self._record_error(channel.id, problem)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                delay = min(delay * 2, MAX_RESTART_DELAY)

    async def _record_error(self, channel_id: uuid.UUID, problem: str) -> None:
        await self.hub.db.transaction(lambda s: record_channel_error(s, channel_id, problem))

    def _submitter(self, channel: Channel) -> Any:
        async def submit(parsed: ParsedWebhook) -> list[Any]:
            async with self.hub.db.read() as session:
                config = await load_workspace_config(session)
            outcome = await self.hub.db.transaction(
                lambda s: process_webhook(s, channel, parsed, journey_window=config.journey_window)
            )
            self.hub.wake_worker()
            return outcome.results

        return submit
