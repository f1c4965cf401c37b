"""Channel icons: one per channel kind, hidden from screen readers, nothing for the unknown."""

from __future__ import annotations

import pytest

from relaydesk.channels.registry import KINDS
from relaydesk.console.icons import channel_icon


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_channel_kind_has_an_icon(kind: str) -> None:
    icon = str(channel_icon(kind))
    assert icon.startswith("<svg") and 'aria-hidden="true"' in icon and "<path d=" in icon


def test_an_unknown_kind_or_a_missing_one_has_none() -> None:
    assert str(channel_icon("carrier_pigeon")) == ""
    assert str(channel_icon(None)) == ""


def test_sms_and_whatsapp_look_different_from_email() -> None:
    assert len({str(channel_icon(k)) for k in ("email", "twilio_sms", "whatsapp_cloud")}) == 3
