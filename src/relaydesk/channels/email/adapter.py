"""The email channel (kind ``email``): receives by its own SMTP server and/or by polling an
IMAP mailbox, replies by SMTP. See docs/channels/email.md."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, ClassVar

import httpx

from relaydesk import clock
from relaydesk.channels.base import (
    Capabilities,
    ChannelAdapter,
    ChannelConfig,
    OutboundMessage,
    ParsedWebhook,
    SendResult,
    Submit,
    resolve_secret,
)
from relaydesk.channels.email import imap_poll, smtp_in, smtp_out
from relaydesk.channels.email.config import EmailConfig
from relaydesk.channels.email.inbound import Inbound, translate

log = logging.getLogger("relaydesk.channels.email")


class EmailChannel(ChannelAdapter):
    kind: ClassVar[str] = "email"
    Config: ClassVar[type[ChannelConfig]] = EmailConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        buttons=False, attachments=False, channel_class="email"
    )
    accepts_webhooks: ClassVar[bool] = False
    has_receiver: ClassVar[bool] = True

    @property
    def settings(self) -> EmailConfig:
        assert isinstance(self.config, EmailConfig)
        return self.config

    def describe(self) -> dict[str, Any]:
        config = self.settings
        inbound = []
        if config.inbound_smtp_port is not None:
            inbound.append(f"smtp://{config.inbound_smtp_host}:{config.inbound_smtp_port}")
        if config.imap_host:
            inbound.append(
                f"imap://{config.imap_host}:{config.imap_port_or_default}/{config.imap_folder} "
                f"every {config.imap_poll_seconds:g} s"
            )
        return {
            "address": config.address,
            "inbound": inbound or ["none (replies only)"],
            "outbound": f"smtp://{config.smtp_host}:{config.smtp_port_or_default}",
        }

    def translate(self, raw: bytes, *, envelope_from: str | None, via: str) -> Inbound:
        """One raw email → what to store (see inbound.translate)."""
        return translate(
            raw,
            channel=self.name,
            own_address=self.settings.address,
            envelope_from=envelope_from,
            via=via,
        )

    def _translator(self, via: str) -> Any:
        def run(raw: bytes, envelope_from: str | None) -> tuple[ParsedWebhook, str | None]:
            result = self.translate(raw, envelope_from=envelope_from, via=via)
            return result.parsed, result.ignored

        return run

    @classmethod
    def address_from_identities(
        cls, identities: list[tuple[str, str, str]], channel_name: str
    ) -> dict[str, Any] | None:
        emails = [value for kind, _scope, value in identities if kind == "email"]
        return {"to": emails[0]} if emails else None

    async def send(self, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        config = self.settings
        password = (
            resolve_secret(config.smtp_password, "smtp_password") if config.smtp_password else None
        )
        mail = smtp_out.compose(message, config, now=clock.now())
        await smtp_out.deliver(mail, str(message.reply_to["to"]), config, password)
        return SendResult(external_id=str(mail["Message-ID"]), status="sent")

    async def receive(self, submit: Submit, stop: asyncio.Event) -> None:
        """Run the SMTP server and the IMAP poller (whichever are configured) until stopped."""
        config = self.settings
        jobs = []
        if config.inbound_smtp_port is not None:
            handler = smtp_in.Handler(config.domain, self._translator("smtp"), submit)
            jobs.append(
                smtp_in.serve(
                    handler,
                    config.inbound_smtp_host,
                    config.inbound_smtp_port,
                    stop,
                    hostname=config.domain,
                )
            )
        if config.imap_host:
            password = resolve_secret(config.imap_password, "imap_password")
            jobs.append(
                imap_poll.poll(
                    lambda: imap_poll.Mailbox(config, password),
                    self._translator("imap"),
                    submit,
                    stop,
                    config.imap_poll_seconds,
                )
            )
        if not jobs:
            await stop.wait()
            return
        tasks = [asyncio.create_task(job) for job in jobs]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # re-raise the first failure for the receiver's health
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
