"""The channel rules for a written reply, as one pure function of a snapshot.

``queue_reply`` asks here before it stores a reply, and the console composer asks here to
show, per channel, whether the agent can send and why not; the rules live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from relaydesk.channels.base import consent_key
from relaydesk.channels.registry import adapter_class


@dataclass(frozen=True)
class ChannelSnapshot:
    """What the rules need to know about one channel for one customer."""

    name: str
    kind: str
    enabled: bool
    reachable: bool
    """The journey has a conversation there, or the customer an address the channel takes."""
    last_inbound_at: datetime | None
    """The customer's last message on the conversation a reply would join (None: none)."""
    revoked: frozenset[str] = frozenset()
    """The customer's revoked consent keys (``<channel>`` or ``<channel>:marketing``)."""


@dataclass(frozen=True)
class Refusal:
    code: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    """May a free-text reply go out; if not, why, and whether a template would."""

    refusal: Refusal | None
    template_only: bool = False
    """The reply window is closed but an approved template may still be sent."""

    @property
    def can_send(self) -> bool:
        return self.refusal is None


def check_reply(
    channel: ChannelSnapshot,
    now: datetime,
    *,
    marketing: bool = False,
    template: bool = False,
    tag: bool = False,
    text_length: int = 0,
) -> Verdict:
    """The first rule the reply breaks (address, enabled, written, consent, window, length)."""
    if not channel.reachable:
        return Verdict(
            Refusal("no_address", f"the customer has no address on {channel.name} ({channel.kind})")
        )
    if not channel.enabled:
        return Verdict(Refusal("channel_disabled", f"channel {channel.name} is disabled"))
    adapter = adapter_class(channel.kind)
    if not adapter.takes_written_replies:
        return Verdict(
            Refusal(
                "no_written_replies",
                f"{channel.name} is a {channel.kind} channel: a call cannot carry a written "
                "reply; reply on another channel (SMS, WhatsApp, email)",
            )
        )
    purposes = ["all", "marketing"] if marketing else ["all"]
    for key in (consent_key(channel.name, p) for p in purposes):
        if key in channel.revoked:
            what = "marketing messages on " if key != channel.name else ""
            return Verdict(
                Refusal(
                    "opted_out",
                    f"the customer opted out of {what}{channel.name}; reply on another channel",
                )
            )
    capabilities = adapter.capabilities
    window = capabilities.reply_window
    if window is not None:
        opened = channel.last_inbound_at
        if opened is None or now - opened > window:
            hours = int(window.total_seconds() // 3600)
            allowed = capabilities.outside_window
            if not ((allowed == "template" and template) or (allowed == "tag" and tag)):
                how = {
                    "template": "send an approved template",
                    "tag": "send it with a message tag (HUMAN_AGENT)",
                }.get(allowed or "", "wait for the customer to write again")
                return Verdict(
                    Refusal(
                        "window_closed",
                        f"{channel.name}: the customer's last message is older than {hours} h, "
                        f"so {channel.kind} allows no free-form reply; {how} or use another "
                        "channel",
                    ),
                    template_only=allowed == "template",
                )
    limit = capabilities.max_text_length
    if limit is not None and text_length > limit:
        return Verdict(
            Refusal("too_long", f"{channel.kind} messages are at most {limit} characters")
        )
    return Verdict(None)
