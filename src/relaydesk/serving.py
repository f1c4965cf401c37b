"""Running the hub: the web server (uvicorn) and a standalone worker process.

Both stop cleanly on SIGTERM: uvicorn stops accepting, lets in-flight requests finish, then
the lifespan stops the worker after its current job.

The worker process fires timers within a moment of its start (a restart must not make them
late): it imports neither the web app nor scikit-learn at start. Building the bot's model
holds the whole process for seconds (loading the language detector's models keeps the GIL:
measured 7 s at load 7 on 2 cores, the event loop frozen), so the worker builds it when
nothing is due for a while, or when the first message that needs it arrives
(``BotRuntime.trained`` starts it then and those listeners wait); timers and listeners that
do not need the model run meanwhile.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket

from relaydesk import heap
from relaydesk.bot.listeners import start_training
from relaydesk.bot.runtime import DEFAULT_MODELS
from relaydesk.channels.receivers import Receivers
from relaydesk.hub import Hub
from relaydesk.logs import UVICORN_LOG_CONFIG, configure_logging
from relaydesk.settings import Settings
from relaydesk.worker import Worker

log = logging.getLogger("relaydesk.serving")

GRACEFUL_SHUTDOWN_SECONDS = 30
TRAIN_WHEN_QUIET_FOR = 15.0
"""Real seconds with nothing due that the worker waits for before building the bot's model."""


LISTEN_BACKLOG = 2048  # uvicorn's default


class PortTaken(OSError):
    """Another process listens on the address: said before anything is printed or started."""


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen on the server's socket first, so nobody is told the hub runs on an
    address that another process holds (uvicorn would only find out after the banner)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        raise
    sock.set_inheritable(True)
    return sock


def run_server(
    settings: Settings, *, host: str, port: int, sock: socket.socket | None = None
) -> None:
    import uvicorn  # the web stack is the server's, not the worker process's

    from relaydesk.app import create_app

    configure_logging(settings.log_level)
    heap.enable()  # the app's lifespan settles the heap once it has started
    if settings.run_worker:
        DEFAULT_MODELS.start()  # the bot's model trains while the server starts
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=UVICORN_LOG_CONFIG,
        log_level=settings.log_level,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        proxy_headers=True,
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock] if sock is not None else None)


def run_worker_process(settings: Settings) -> None:
    configure_logging(settings.log_level)
    heap.enable()

    async def main() -> None:
        hub = Hub.from_settings(settings)
        worker = Worker(hub)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        receivers = Receivers(hub)
        worker.start()
        receivers.start()
        heap.settle("worker start")
        training = asyncio.create_task(train_when_quiet(hub, worker))
        await stop.wait()
        training.cancel()
        await receivers.stop()
        await worker.stop()
        await hub.close()

    asyncio.run(main())


async def train_when_quiet(
    hub: Hub, worker: Worker, *, quiet: float = TRAIN_WHEN_QUIET_FOR, check: float = 1.0
) -> None:
    """Start the bot's models once ``worker`` has nothing due for ``quiet`` seconds, unless a
    message needed them first (then they are training already)."""
    while not worker.quiet_for(quiet):
        if DEFAULT_MODELS.started():
            return  # started by the first turn that needed it
        await asyncio.sleep(check)
    DEFAULT_MODELS.start()
    try:
        await start_training(hub)  # the workspace's own intents, if it has any
    except Exception:  # the first message that needs the model starts it then
        log.exception("could not read the workspace's intents to train them")
