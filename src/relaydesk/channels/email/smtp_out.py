"""Replies by SMTP (aiosmtplib): our own Message-ID, In-Reply-To/References from the customer's
message, ``Auto-Submitted: auto-replied`` only on automatic (bot and system) messages."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from relaydesk.channels.base import (
    ChannelMisconfigured,
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
)
from relaydesk.channels.content import text_with_choices
from relaydesk.channels.email.automatic import redact
from relaydesk.channels.email.config import EmailConfig
from relaydesk.channels.email.threads import our_message_id

AUTOMATIC_AUTHORS = ("bot", "system")
TIMEOUT = 30.0


def is_automatic(message: OutboundMessage) -> bool:
    """Bot and system messages are automatic; an agent's reply is not.

    Reads ``meta["author_type"]`` (or ``meta["automatic"]``), which delivery passes on.
    """
    return bool(message.meta.get("automatic")) or (
        message.meta.get("author_type") in AUTOMATIC_AUTHORS
    )


def _body(message: OutboundMessage) -> str:
    text = text_with_choices(message.text, message.buttons)  # email has no buttons
    return text if text.endswith("\n") else text + "\n"


def compose(message: OutboundMessage, config: EmailConfig, *, now: datetime) -> EmailMessage:
    """The reply as an RFC 5322 message; raises PermanentSendError when it cannot be addressed."""
    reply_to = message.reply_to
    to = reply_to.get("to")
    if not to:
        raise PermanentSendError("no email address to reply to", "no_address")
    references = reply_to.get("references") or []
    if isinstance(references, str):
        references = references.split()
    mail = EmailMessage()
    try:
        mail["From"] = formataddr((config.from_name or "", config.address))
        mail["To"] = str(to)
        mail["Subject"] = str(reply_to.get("subject") or config.default_subject)
        mail["Date"] = format_datetime(now)
        mail["Message-ID"] = our_message_id(message.message_id, config.domain)
        if reply_to.get("in_reply_to"):
            mail["In-Reply-To"] = str(reply_to["in_reply_to"])
        if references:
            mail["References"] = " ".join(str(ref) for ref in references)
        if is_automatic(message):
            mail["Auto-Submitted"] = "auto-replied"
    except (ValueError, TypeError) as exc:
        raise PermanentSendError(
            f"cannot address the reply: {redact(str(exc))}", "bad_header"
        ) from None
    mail.set_content(_body(message))
    return mail


def _response_failure(code: int, text: str, what: str) -> Exception:
    reason = f"SMTP {what}: {code} {redact(text)}"
    if 400 <= code < 500:
        return TransientSendError(reason)
    return PermanentSendError(reason, str(code))


async def deliver(
    mail: EmailMessage, recipient: str, config: EmailConfig, password: str | None
) -> None:
    """Hand the reply to the configured SMTP server; raise Transient/PermanentSendError."""
    try:
        await aiosmtplib.send(
            mail,
            sender=config.address,
            recipients=[recipient],
            hostname=config.smtp_host,
            port=config.smtp_port_or_default,
            username=config.smtp_username,
            password=password,
            use_tls=config.smtp_tls,
            start_tls=False if config.smtp_tls else config.smtp_starttls,
            local_hostname=config.domain,
            timeout=TIMEOUT,
        )
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise ChannelMisconfigured(f"the SMTP server refused the login ({exc.code})") from exc
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0]
        raise _response_failure(first.code, first.message, "recipient refused") from exc
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected) as exc:
        raise TransientSendError(f"SMTP server unreachable: {type(exc).__name__}") from exc
    except aiosmtplib.SMTPTimeoutError as exc:
        raise TransientSendError("SMTP server timed out") from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise _response_failure(exc.code, exc.message, type(exc).__name__) from exc
    except aiosmtplib.SMTPException as exc:  # e.g. STARTTLS required but not offered
        raise ChannelMisconfigured(f"SMTP: {redact(str(exc))}") from exc
    except OSError as exc:
        raise TransientSendError(f"SMTP server unreachable: {type(exc).__name__}") from exc
