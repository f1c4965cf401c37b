"""The worker process: nothing heavy at start, the bot's model built when nothing is due."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

import pytest

from relaydesk import serving
from relaydesk.bot.runtime import BotModels, Trained
from relaydesk.hub import Hub

HEAVY = ("sklearn", "scipy", "numpy", "fastapi", "uvicorn", "redis")

WORKER_START = """
import sys
from relaydesk.cli import load_settings, migrate_or_fail
from relaydesk.serving import run_worker_process
from relaydesk.timers import load_timer_handlers
from relaydesk.bus import load_listeners
load_timer_handlers()
load_listeners()
print(",".join(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def test_the_worker_process_starts_without_the_nlu_or_web_stacks() -> None:
    """What ``relaydesk worker`` imports before its first round, every handler and listener
    included: scikit-learn alone took seconds, during which no timer fired."""
    done = subprocess.run(
        [sys.executable, "-c", WORKER_START.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == ""


class RecordingModels(BotModels):
    """Records what would start training, without training."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[str] = []

    def start(
        self, definition: Mapping[str, Any] | None = None, version: str = "default"
    ) -> Future[Trained]:
        self.starts.append(version)
        with self._lock:
            future: Future[Trained] = self._futures.setdefault(version, Future())
        return future


class StubWorker:
    def __init__(self, quiet_after: int) -> None:
        self.asked = 0
        self.quiet_after = quiet_after

    def quiet_for(self, seconds: float) -> bool:
        assert seconds == serving.TRAIN_WHEN_QUIET_FOR
        self.asked += 1
        return self.asked > self.quiet_after


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> RecordingModels:
    recording = RecordingModels()
    monkeypatch.setattr(serving, "DEFAULT_MODELS", recording)
    return recording


async def test_training_waits_until_the_worker_is_quiet(
    hub: Hub, models: RecordingModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace: list[Hub] = []

    async def start_training(h: Hub) -> None:
        workspace.append(h)

    monkeypatch.setattr(serving, "start_training", start_training)
    worker = StubWorker(quiet_after=3)
    task = asyncio.create_task(serving.train_when_quiet(hub, worker, check=0.01))  # type: ignore[arg-type]
    await asyncio.sleep(0.015)
    assert models.starts == [] and workspace == []  # still busy
    await asyncio.wait_for(task, 5)
    assert worker.asked == 4
    assert models.starts == ["default"]
    assert workspace == [hub]  # and the workspace's own intents, if any


async def test_training_started_by_a_message_is_not_started_again(
    hub: Hub, models: RecordingModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def start_training(h: Hub) -> None:
        raise AssertionError("the turn that needed the model started it")

    monkeypatch.setattr(serving, "start_training", start_training)
    worker = StubWorker(quiet_after=10**9)
    task = asyncio.create_task(serving.train_when_quiet(hub, worker, check=0.01))  # type: ignore[arg-type]
    await asyncio.sleep(0.03)
    models.start(None, "workspace-v2")  # what BotRuntime.trained does on the first turn
    await asyncio.wait_for(task, 5)
    assert models.starts == ["workspace-v2"]


async def test_a_failure_reading_the_workspace_does_not_stop_the_worker(
    hub: Hub, models: RecordingModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def start_training(h: Hub) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(serving, "start_training", start_training)
    await serving.train_when_quiet(hub, StubWorker(quiet_after=0), check=0.01)  # type: ignore[arg-type]
    assert models.starts == ["default"]


def test_listen_holds_the_port_and_names_only_a_taken_one() -> None:
    import errno
    import socket

    import pytest

    from relaydesk.serving import PortTaken, listen

    first = listen("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        with pytest.raises(PortTaken, match=f"cannot listen on 127.0.0.1:{port}"):
            listen("127.0.0.1", port)  # held from the moment listen() returns
    finally:
        first.close()
    with pytest.raises(OSError) as other:
        listen("203.0.113.1", 0)  # TEST-NET-3: not an address of this machine
    assert not isinstance(other.value, PortTaken)
    assert other.value.errno == errno.EADDRNOTAVAIL
    local = listen("localhost", 0)
    assert isinstance(local, socket.socket)
    local.close()
