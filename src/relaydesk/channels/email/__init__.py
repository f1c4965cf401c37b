"""The email channel: SMTP in (built-in server), IMAP polling, SMTP out.

Modules: ``config`` (settings), ``parsing`` (headers, body, quoted history), ``threads``
(Message-ID / In-Reply-To / References), ``automatic`` (bounces and auto-replies),
``inbound`` (one email → what is stored), ``smtp_in``, ``imap_poll``, ``smtp_out``, and
``adapter`` (the ChannelAdapter tying them together).
"""

from relaydesk.channels.email.adapter import EmailChannel
from relaydesk.channels.email.config import EmailConfig

__all__ = ["EmailChannel", "EmailConfig"]
