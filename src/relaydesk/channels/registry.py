"""Channel kinds: adding a channel is one adapter module and one line here."""

from __future__ import annotations

import weakref
from typing import Any

from relaydesk.channels.api_channel import ApiChannel
from relaydesk.channels.base import ChannelAdapter
from relaydesk.channels.webchat import WebchatChannel

KINDS: dict[str, type[ChannelAdapter]] = {
    ApiChannel.kind: ApiChannel,
    WebchatChannel.kind: WebchatChannel,
}


class UnknownChannelKind(ValueError):
    pass


def adapter_class(kind: str) -> type[ChannelAdapter]:
    try:
        return KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise UnknownChannelKind(f"unknown channel kind {kind!r} (known: {known})") from None


def build_adapter(name: str, kind: str, settings: dict[str, Any]) -> ChannelAdapter:
    """Validate ``settings`` for ``kind`` and return a ready adapter."""
    cls = adapter_class(kind)
    return cls(name, cls.Config.model_validate(settings))


_BUILT: weakref.WeakKeyDictionary[Any, ChannelAdapter] = weakref.WeakKeyDictionary()


def adapter_for(channel: Any) -> ChannelAdapter:
    """``build_adapter`` for a channel record, kept as long as that record object lives: the
    request paths get the same cached record for a second, and validating its settings
    (phone numbers, URLs) on every webhook cost more than the signature check."""
    adapter = _BUILT.get(channel)
    if adapter is None:
        adapter = _BUILT[channel] = build_adapter(channel.name, channel.kind, channel.settings)
    return adapter


from relaydesk.channels.email import EmailChannel  # noqa: E402
from relaydesk.channels.telegram import TelegramChannel  # noqa: E402

KINDS.update({EmailChannel.kind: EmailChannel, TelegramChannel.kind: TelegramChannel})

from relaydesk.channels.instagram import InstagramChannel  # noqa: E402
from relaydesk.channels.messenger import MessengerChannel  # noqa: E402
from relaydesk.channels.whatsapp_cloud import WhatsAppCloudChannel  # noqa: E402

KINDS.update({k.kind: k for k in (WhatsAppCloudChannel, MessengerChannel, InstagramChannel)})

from relaydesk.channels.twilio_messaging import (  # noqa: E402
    TwilioSmsChannel,
    TwilioWhatsAppChannel,
)
from relaydesk.channels.twilio_voice import TwilioVoiceChannel  # noqa: E402

KINDS.update({k.kind: k for k in (TwilioSmsChannel, TwilioWhatsAppChannel, TwilioVoiceChannel)})
