"""The built-in SMTP server (aiosmtpd) that receives mail for the channel's domain.

It runs on the receiver's own event loop and answers ``250`` only after the message is
stored, so the sending MTA keeps the mail and retries (``451``) if the hub cannot store it.
Put it behind your MX or on loopback; it offers no TLS and no AUTH.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable

from aiosmtpd.smtp import SMTP, Envelope, Session

from relaydesk.channels.base import ParsedWebhook, Submit

log = logging.getLogger("relaydesk.channels.email")

DATA_SIZE_LIMIT = 25 * 1024 * 1024
"""Largest message accepted, in bytes (announced in EHLO SIZE)."""

Translate = Callable[[bytes, str], tuple[ParsedWebhook, str | None]]
"""(raw message, envelope sender) → what to store, and why nothing was (if so)."""


class _QuietSessionLog(logging.Filter):
    """aiosmtpd logs peers, senders and recipients at INFO: keep only errors, without data."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return False
        record.msg, record.args, record.exc_info, record.exc_text = (
            f"SMTP session error ({record.exc_info[0].__name__})"
            if record.exc_info and record.exc_info[0]
            else "SMTP session error",
            (),
            None,
            None,
        )
        return True


_session_log = logging.getLogger("mail.log")
if not any(isinstance(f, _QuietSessionLog) for f in _session_log.filters):
    _session_log.addFilter(_QuietSessionLog())


class LenientSMTP(SMTP):
    """Accepts lines over RFC 5321's 1,000 octets, as Postfix does: real mail (and the
    fixture from CPython's test data) has them, and refusing loses the customer's message."""

    line_length_limit = 64 * 1024


class Handler:
    """aiosmtpd hooks: accept recipients of our domain, store each message before 250."""

    def __init__(self, domain: str, translate: Translate, submit: Submit) -> None:
        self.domain = domain.lower()
        self.translate = translate
        self.submit = submit

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.rpartition("@")[2].lower() != self.domain:
            return "550 5.1.1 Not a mailbox of this server"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            parsed, ignored = self.translate(raw, envelope.mail_from or "")
        except Exception as exc:
            log.warning("unreadable email refused (%s)", type(exc).__name__)
            return "554 5.6.0 Message could not be read"
        if ignored:
            log.info("email not stored as a customer message: %s", ignored)
        if parsed.messages or parsed.deliveries:
            try:
                await self.submit(parsed)
            except Exception as exc:
                log.warning(
                    "could not store an email (%s); the sender will retry", type(exc).__name__
                )
                return "451 4.3.0 Temporary failure, please try again later"
        return "250 2.0.0 OK"


async def serve(
    handler: Handler,
    host: str,
    port: int,
    stop: asyncio.Event,
    *,
    hostname: str,
) -> None:
    """Listen on host:port until ``stop`` is set; connections are closed on the way out."""
    loop = asyncio.get_running_loop()
    sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def factory() -> SMTP:
        protocol = LenientSMTP(
            handler,
            hostname=hostname,
            ident="Relaydesk ESMTP",
            data_size_limit=DATA_SIZE_LIMIT,
            enable_SMTPUTF8=True,
            loop=loop,
        )
        sessions.add(protocol)
        return protocol

    server = await loop.create_server(factory, host, port)
    try:
        await stop.wait()
    finally:
        server.close()
        for protocol in sessions:
            transport = protocol.transport
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), timeout=5)
