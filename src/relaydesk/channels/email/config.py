"""Settings of an email channel (``kind: email``) as written in the workspace file."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from relaydesk.channels.base import ChannelConfig
from relaydesk.customers.identities import InvalidIdentity, normalize_email

Port = Annotated[int, Field(ge=1, le=65535)]


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class EmailConfig(ChannelConfig):
    address: str
    """The support address customers write to; replies come from it, bounces return to it."""
    from_name: Annotated[str, Field(max_length=200)] | None = None
    """Display name on replies ("Acme Support")."""
    default_subject: Annotated[str, Field(min_length=1, max_length=200)] = "Your request"
    """Subject of a message that answers no email (the customer wrote on another channel)."""

    smtp_host: str
    smtp_port: Port | None = None
    """Default 465 with smtp_tls, else 587."""
    smtp_username: str | None = None
    smtp_password: str | None = None
    """env:NAME."""
    smtp_starttls: bool = True
    """Upgrade with STARTTLS (required when true); ignored with smtp_tls."""
    smtp_tls: bool = False
    """Implicit TLS from the first byte (port 465)."""

    imap_host: str | None = None
    """Poll this mailbox; leave out to receive by SMTP only."""
    imap_port: Port | None = None
    """Default 993 with imap_tls, else 143."""
    imap_username: str | None = None
    imap_password: str | None = None
    """env:NAME."""
    imap_tls: bool = True
    imap_starttls: bool = False
    """Used when imap_tls is false."""
    imap_folder: str = "INBOX"
    imap_poll_seconds: Annotated[float, Field(ge=1, le=3600)] = 60
    imap_move_to: str | None = None
    """Move processed mail to this folder (it must exist); by default it is marked read."""

    inbound_smtp_host: str = "127.0.0.1"
    inbound_smtp_port: Port | None = None
    """Run the built-in SMTP server on this port (behind your MX); leave out to not listen."""

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return normalize_email(value)
        except InvalidIdentity as exc:
            raise ValueError(exc.reason) from None

    @model_validator(mode="after")
    def _consistent(self) -> EmailConfig:
        if bool(self.smtp_username) != bool(self.smtp_password):
            raise ValueError("smtp_username and smtp_password go together")
        if (
            self.smtp_password
            and not (self.smtp_tls or self.smtp_starttls)
            and not is_loopback(self.smtp_host)
        ):
            raise ValueError(
                "smtp_password would cross the network in clear: set smtp_tls or smtp_starttls"
            )
        if self.imap_host is not None:
            if not (self.imap_username and self.imap_password):
                raise ValueError("imap_host needs imap_username and imap_password")
            if not (self.imap_tls or self.imap_starttls) and not is_loopback(self.imap_host):
                raise ValueError(
                    "imap_password would cross the network in clear: set imap_tls or imap_starttls"
                )
        return self

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @property
    def smtp_port_or_default(self) -> int:
        return self.smtp_port or (465 if self.smtp_tls else 587)

    @property
    def imap_port_or_default(self) -> int:
        return self.imap_port or (993 if self.imap_tls else 143)
