"""The bare ASGI ceiling: a minimal Starlette JSON endpoint under Relaydesk's server settings.

Run as ``python bench/_ceiling.py PORT``. The uvicorn configuration mirrors
``relaydesk.serving.run_server`` (uvloop, httptools, one process, the same logging set-up
with access logs at INFO, proxy headers on, no server header), so the only difference from
``relaydesk serve`` is the application: parse a small JSON body, answer a small JSON.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from relaydesk.logs import UVICORN_LOG_CONFIG, configure_logging
from relaydesk.serving import GRACEFUL_SHUTDOWN_SECONDS

LOG_LEVEL = "info"  # relaydesk's Settings.log_level default


async def post_message(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"id": body["external_id"], "ok": True}, status_code=201)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/api/v1/messages", post_message, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)


def main() -> None:
    port = int(sys.argv[1])
    configure_logging(LOG_LEVEL)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=UVICORN_LOG_CONFIG,
        log_level=LOG_LEVEL,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        proxy_headers=True,
        server_header=False,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
