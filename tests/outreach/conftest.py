"""Outreach tests: a workspace with an API channel whose replies go to a loopback server,
one agent, outreach configured, and the bot's model trained once per session."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.helpers.loopback import LoopbackProvider
from tests.helpers.workspace import apply_text

from relaydesk import clock
from relaydesk.bot.listeners import BotRuntime, use_runtime
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import load_pack
from relaydesk.hub import Hub

START = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
"""A Monday, 11:00 in Stockholm."""

WORKSPACE = """
version: 1
settings:
  timezone: Europe/Stockholm
  default_language: en
channels:
  - name: app
    kind: api
    settings:
      callback_url: {url}/inbox
      callback_secret: env:RELAYDESK_TEST_CALLBACK_SECRET
  - name: portal
    kind: api
    settings:
      callback_url: {url}/portal
      callback_secret: env:RELAYDESK_TEST_CALLBACK_SECRET
agents:
  - email: ana@example.com
    name: Ana
    languages: [en, sv, id]
routing:
  policy: human_first
  auto_accept: true
outreach:
  daytime: {{start: "08:00", end: "20:00"}}
  updates:
    every: 1d
    intents: {{refund: 12h}}
    priorities: {{urgent: 6h}}
  notifications:
    templates:
      appointment:
        kind: appointment
        texts:
          en: "Reminder: your appointment is on {{date}} at {{time}}."
          sv: "Påminnelse: din tid är {{date}} kl. {{time}}."
        channels:
          portal:
            texts: {{en: "Appointment {{date}} {{time}}"}}
      renewal:
        kind: renewal
        purpose: marketing
        texts: {{en: "Your plan renews on {{date}}."}}
  surveys:
    enabled: true
    delay: 1h
    cooldown: 30d
    metrics: [ces, nps]
    comment: true
    expire_after: 2d
"""


@pytest.fixture(scope="session")
def nlu_model() -> NluModel:
    return NluModel.from_pack(load_pack())


@pytest.fixture
def start_clock(manual_clock: clock.ManualClock) -> clock.ManualClock:
    manual_clock.set(START)
    return manual_clock


@pytest.fixture
async def outreach_hub(
    hub: Hub,
    nlu_model: NluModel,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Hub:
    monkeypatch.setenv("RELAYDESK_TEST_CALLBACK_SECRET", "s3cret")
    use_runtime(hub, BotRuntime(model=nlu_model))
    await apply_text(hub, WORKSPACE.format(url=provider.url))
    return hub
