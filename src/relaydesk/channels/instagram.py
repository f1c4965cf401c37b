"""Instagram Direct messages for a professional account (``kind: instagram``).

Instagram messaging runs on the Messenger Platform: the same signed webhooks (object
``instagram``, ``entry.id`` = the Instagram account), the same Send API on the linked Facebook
Page with its Page access token. The differences live here: senders are Instagram-scoped ids
(handles of kind ``instagram`` scoped to this channel), ``messaging_seen`` names the message
read (no watermark), there are no delivery receipts, text is at most 1000 bytes, and the only
message tag is ``HUMAN_AGENT`` (a person replying up to 7 days after the customer's last
message).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from relaydesk.channels.base import Capabilities, ChannelConfig
from relaydesk.channels.messenger import (
    REPLY_WINDOW,
    MessengerChannel,
    PageChannelConfig,
)
from relaydesk.channels.meta_common import INSTAGRAM_REASONS, Reasons


class InstagramConfig(PageChannelConfig):
    instagram_account_id: str | None = Field(None, pattern=r"^\d+$")
    """The Instagram professional account id (``entry.id``); when set, notifications for other
    accounts of the same app are skipped."""


class InstagramChannel(MessengerChannel):
    kind: ClassVar[str] = "instagram"
    Config: ClassVar[type[ChannelConfig]] = InstagramConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        buttons=True,
        max_text_length=1000,
        channel_class="messaging",
        reply_window=REPLY_WINDOW,
        outside_window="tag",
        receipts=True,
    )
    label: ClassVar[str] = "Instagram"
    webhook_object: ClassVar[str] = "instagram"
    subscribe_fields: ClassVar[tuple[str, ...]] = (
        "messages",
        "messaging_postbacks",
        "messaging_seen",
        "message_reactions",
    )
    allowed_tags: ClassVar[frozenset[str]] = frozenset({"HUMAN_AGENT"})
    max_text_bytes: ClassVar[int | None] = 1000
    reasons: ClassVar[Reasons] = INSTAGRAM_REASONS

    @property
    def instagram_settings(self) -> InstagramConfig:
        assert isinstance(self.config, InstagramConfig)
        return self.config

    def account_id(self) -> str | None:
        return self.instagram_settings.instagram_account_id

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        if self.instagram_settings.instagram_account_id:
            described["instagram_account_id"] = self.instagram_settings.instagram_account_id
        return described
