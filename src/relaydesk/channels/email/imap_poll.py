"""Polling an IMAP mailbox: fetch unread mail, store it, then mark it read (or move it).

A message is marked only after it is stored, so a crash in between fetches it again on the
next poll, and its Message-ID makes the second store a no-op. The fetch uses ``BODY.PEEK[]``,
which leaves the message unread until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import imaplib
import logging
import re
import ssl
from collections.abc import Callable

from relaydesk.channels.base import ChannelMisconfigured, ParsedWebhook, Submit
from relaydesk.channels.email.config import EmailConfig

log = logging.getLogger("relaydesk.channels.email")

BATCH = 50
"""Messages handled per poll before the next poll starts (bounds memory and latency)."""
TIMEOUT = 30.0

Translate = Callable[[bytes, str | None], tuple[ParsedWebhook, str | None]]
_ATOM = re.compile(r"^[A-Za-z0-9_./-]+$")


def quote_mailbox(name: str) -> str:
    if _ATOM.match(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Mailbox:
    """One IMAP session (imaplib, blocking): call its methods from a worker thread."""

    def __init__(self, config: EmailConfig, password: str) -> None:
        self.config = config
        self.password = password
        self.conn: imaplib.IMAP4 | None = None
        self.capabilities: tuple[str, ...] = ()

    def open(self) -> None:
        config = self.config
        assert config.imap_host is not None
        assert config.imap_username is not None
        host, port = config.imap_host, config.imap_port_or_default
        context = ssl.create_default_context()
        if config.imap_tls:
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                host, port, ssl_context=context, timeout=TIMEOUT
            )
        else:
            conn = imaplib.IMAP4(host, port, timeout=TIMEOUT)
            if config.imap_starttls:
                conn.starttls(ssl_context=context)
        self.conn = conn
        try:
            conn.login(config.imap_username, self.password)
        except imaplib.IMAP4.error as exc:
            raise ChannelMisconfigured("the IMAP server refused the login") from exc
        status, data = conn.capability()  # servers announce more (MOVE, UIDPLUS) after login
        raw = data[-1] if status == "OK" and data else b""
        self.capabilities = tuple(bytes(raw or b"").decode("ascii", "replace").upper().split())
        status, _ = conn.select(quote_mailbox(config.imap_folder))
        if status != "OK":
            raise ChannelMisconfigured(f"IMAP folder {config.imap_folder!r} cannot be opened")

    def _conn(self) -> imaplib.IMAP4:
        assert self.conn is not None, "open() first"
        return self.conn

    def unseen(self) -> list[bytes]:
        status, data = self._conn().uid("SEARCH", "UNSEEN")
        if status != "OK" or not data or not data[0]:
            return []
        return [uid for uid in bytes(data[0]).split() if uid.isdigit()]

    def fetch(self, uid: bytes) -> bytes | None:
        status, data = self._conn().uid("FETCH", uid.decode(), "(BODY.PEEK[])")
        if status != "OK":
            return None
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        return None  # expunged meanwhile

    def done(self, uid: bytes, *, unreadable: bool = False) -> None:
        conn, target = self._conn(), self.config.imap_move_to
        if unreadable or not target:
            flags = "(\\Seen \\Flagged)" if unreadable else "(\\Seen)"
            conn.uid("STORE", uid.decode(), "+FLAGS", flags)
            return
        if "MOVE" in self.capabilities:
            status, _ = conn.uid("MOVE", uid.decode(), quote_mailbox(target))
        else:
            status, _ = conn.uid("COPY", uid.decode(), quote_mailbox(target))
            if status == "OK":
                conn.uid("STORE", uid.decode(), "+FLAGS", "(\\Seen \\Deleted)")
                conn.expunge()
        if status != "OK":
            raise ChannelMisconfigured(f"IMAP folder {target!r} (imap_move_to) is not usable")

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.logout()
            self.conn = None


async def poll_once(mailbox: Mailbox, translate: Translate, submit: Submit) -> int:
    """Store (or drop) each unread message, then mark it; returns how many were handled."""
    handled = 0
    await asyncio.to_thread(mailbox.open)
    try:
        for uid in (await asyncio.to_thread(mailbox.unseen))[:BATCH]:
            raw = await asyncio.to_thread(mailbox.fetch, uid)
            if raw is None:
                continue
            try:
                parsed, ignored = translate(raw, None)
            except Exception as exc:
                log.warning("unreadable email left flagged in the mailbox (%s)", type(exc).__name__)
                await asyncio.to_thread(functools.partial(mailbox.done, uid, unreadable=True))
                continue
            if ignored:
                log.info("email not stored as a customer message: %s", ignored)
            if parsed.messages or parsed.deliveries:
                await submit(parsed)
            await asyncio.to_thread(mailbox.done, uid)
            handled += 1
    finally:
        await asyncio.to_thread(mailbox.close)
    return handled


async def poll(
    mailbox: Callable[[], Mailbox],
    translate: Translate,
    submit: Submit,
    stop: asyncio.Event,
    every: float,
) -> None:
    """Poll until ``stop`` is set; a full batch is followed at once by the next poll."""
    while not stop.is_set():
        handled = await poll_once(mailbox(), translate, submit)
        if handled >= BATCH:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
