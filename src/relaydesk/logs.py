"""Logging set-up. Personal data never reaches logs: query strings (which can carry an email
or phone number) are cut from access-log lines."""

from __future__ import annotations

import logging


class DropQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2]
            if "?" in path:
                record.args = (*args[:2], path.split("?", 1)[0] + "?…", *args[3:])
        return True


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("uvicorn.access").addFilter(DropQueryStrings())
    # These log request URLs (Telegram's carries the bot token), SQL parameters or mail
    # envelopes at INFO/DEBUG: personal data and secrets, so only their warnings are kept.
    for noisy in ("alembic", "httpx", "httpcore", "aiosqlite", "mail.log", "asyncpg"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


UVICORN_LOG_CONFIG: dict[str, object] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"drop_query": {"()": "relaydesk.logs.DropQueryStrings"}},
    "formatters": {
        "default": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "default": {
            "class": "logging.StreamHandler",
            "formatter": "default",
            "filters": ["drop_query"],
        },
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "relaydesk": {"handlers": ["default"], "level": "INFO", "propagate": False},
    },
}
