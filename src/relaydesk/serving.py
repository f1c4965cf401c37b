"""Running the hub: the web server (uvicorn) and a standalone worker process.

Both stop cleanly on SIGTERM: uvicorn stops accepting, lets in-flight requests finish, then
the lifespan stops the worker after its current job.
"""

from __future__ import annotations

import asyncio
import signal
import socket

import uvicorn

from relaydesk.app import create_app
from relaydesk.bot.listeners import start_training
from relaydesk.bot.runtime import DEFAULT_MODELS
from relaydesk.channels.receivers import Receivers
from relaydesk.hub import Hub
from relaydesk.logs import UVICORN_LOG_CONFIG, configure_logging
from relaydesk.settings import Settings
from relaydesk.worker import Worker

GRACEFUL_SHUTDOWN_SECONDS = 30


class PortTaken(OSError):
    """Another process listens on the address: said before anything is printed or started."""


def listen(host: str, port: int) -> socket.socket:
    """Bind the server's socket first, so nobody is told the hub runs on an address that
    another process holds (uvicorn would only find out after the banner)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortTaken(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.set_inheritable(True)
    return sock


def run_server(
    settings: Settings, *, host: str, port: int, sock: socket.socket | None = None
) -> None:
    configure_logging(settings.log_level)
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

    async def main() -> None:
        hub = Hub.from_settings(settings)
        DEFAULT_MODELS.start()
        await start_training(hub)  # the workspace's own intents, if it has any
        worker = Worker(hub)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        receivers = Receivers(hub)
        worker.start()
        receivers.start()
        await stop.wait()
        await receivers.stop()
        await worker.stop()
        await hub.close()

    asyncio.run(main())
