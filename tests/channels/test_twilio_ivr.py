"""The declarative IVR: the workspace file's checks, the TwiML each step answers with,
and how a menu shrinks with the settings (one language, no IVR)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
import yaml
from tests.channels.test_twilio_voice import (
    IVR,
    TOKEN_ENV,
    Call,
    journey_of_call,
    set_up,
    workspace_text,
)
from tests.conftest import SHARED, scalar
from tests.helpers.loopback import LoopbackProvider
from tests.helpers.workspace import apply_text

from relaydesk.channels.twilio_ivr import Ivr, IvrConfig
from relaydesk.hub import Hub

URL = "https://support.example.com/hooks/phone"


@pytest.fixture
async def workspace(hub: Hub, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    await set_up(hub, provider, monkeypatch)


def ivr(**changes: Any) -> Ivr:
    settings = yaml.safe_load("ivr:\n" + IVR.split("ivr:\n", 1)[1])["ivr"]
    return Ivr(IvrConfig.model_validate({**settings, **changes}), URL)


def said(twiml: str) -> list[str]:
    return [say.text or "" for say in ET.fromstring(twiml).iter("Say")]


def test_the_state_travels_in_the_urls() -> None:
    outcome = ivr().handle("reason", {"lang": "sv", "attempt": "1"}, "2", "")
    assert outcome is not None and outcome.context == {"reason": "order"}
    gather = ET.fromstring(outcome.twiml).find("Gather")
    assert gather is not None
    assert gather.get("action") == f"{URL}?step=offer&lang=sv&reason=order&attempt=1"
    assert ivr().handle("nonsense", {}, "1", "") is None  # the adapter then queues the call
    unknown_language = ivr().handle("offer", {"lang": "xx", "reason": "order"}, "2", "")
    assert unknown_language is not None  # falls back to the first language
    assert said(unknown_language.twiml)[0].startswith("Thank you. Please hold")


@pytest.mark.parametrize(
    ("speech", "reason"),
    [
        ("It's about my invoice", "billing"),
        ("I have a question about billing.", "billing"),
        ("en beställning jag gjorde", None),  # Swedish words are not matched in English
        ("about an order I placed", "order"),
        ("hello?", None),
    ],
)
def test_spoken_reasons(speech: str, reason: str | None) -> None:
    outcome = ivr().handle("reason", {"lang": "en"}, "", speech)
    assert outcome is not None
    assert outcome.context.get("reason") == reason


def test_dial_instead_of_the_queue() -> None:
    outcome = ivr(dial="+46101234000").handle("offer", {"lang": "en"}, "2", "")
    assert outcome is not None
    root = ET.fromstring(outcome.twiml)
    assert root.findtext("Dial") == "+46101234000" and root.find("Enqueue") is None


@pytest.mark.usefixtures("workspace")
async def test_ivr_files_are_checked(hub: Hub, provider: LoopbackProvider) -> None:
    broken = IVR.replace("label: {en: an order, sv: en beställning}", "label: {en: an order}")
    with pytest.raises(Exception, match=r"reasons\.order\.label: no text for sv"):
        await apply_text(hub, workspace_text(provider.url, broken))
    placeholder = IVR.replace("For {label}, press {digit}.", "For {lable}, press {digit}.")
    with pytest.raises(Exception, match=r"languages\.en\.option"):
        await apply_text(hub, workspace_text(provider.url, placeholder))
    literal = workspace_text(provider.url).replace(f"env:{TOKEN_ENV}", "abc123", 1)
    with pytest.raises(Exception, match="auth_token: a secret"):
        await apply_text(hub, literal)


def test_gather_uses_the_sdks_vocabulary() -> None:
    """Our menus use the attributes of the SDK-generated IVR fixture (and a few more)."""
    sample = ET.parse(SHARED / "fixtures/channels/twilio_voice/ivr_menu_twiml_generated_by_sdk.xml")
    sample_gather = sample.getroot().find("Gather")
    assert sample_gather is not None
    outcome = ivr().handle("language", {"attempt": "1"}, "1", "")
    assert outcome is not None
    gather = ET.fromstring(outcome.twiml).find("Gather")
    assert gather is not None
    assert set(sample_gather.attrib) <= set(gather.attrib)


@pytest.mark.usefixtures("workspace")
async def test_without_an_ivr_calls_go_to_the_queue(
    anonymous: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider
) -> None:
    await apply_text(hub, workspace_text(provider.url, ivr="      queue: frontline"))
    twiml = await Call(anonymous).start()
    assert twiml.findtext("Enqueue") == "frontline" and twiml.find("Gather") is None
    assert await scalar(hub, "select count(*) from messages") == 1


@pytest.mark.usefixtures("workspace")
async def test_one_language_skips_the_language_menu(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider
) -> None:
    english_only = IVR[: IVR.index("          - code: sv")] + IVR[IVR.index("        reasons:") :]
    english_only = english_only.replace(", sv: fakturor", "").replace(", sv: en beställning", "")
    english_only = english_only.replace(
        '            sv: "Fortsätt här och slipp kön: https://example.com/c/1"\n', ""
    )
    await apply_text(hub, workspace_text(provider.url, english_only))
    call = Call(anonymous)
    await call.start()
    assert call.said()[0] == ("en-GB", "Welcome to Example Shop.")
    journey = (await client.get(f"/api/v1/journeys/{await journey_of_call(hub)}")).json()
    assert journey["context"] == {"ivr_language": "en"}


PERSON_IVR = IVR.replace(
    "        queue: support", "        queue: support\n        person_digit: '0'"
)


@pytest.mark.usefixtures("workspace")
@pytest.mark.parametrize("menu", ["language", "reason", "offer"])
async def test_the_person_key_is_an_explicit_request_for_a_person(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    menu: str,
) -> None:
    await apply_text(hub, workspace_text(provider.url, PERSON_IVR))
    call = Call(anonymous)
    await call.start()
    for digits in {"language": [], "reason": ["2"], "offer": ["2", "1"]}[menu]:
        await call.press(digits)
    twiml = await call.press("0")
    assert twiml.findtext("Enqueue") == "support" and twiml.find("Gather") is None
    row = await scalar(
        hub, "select meta from messages where external_id = :e", e="CA1234567890ABCDE:person"
    )
    meta = json.loads(row) if isinstance(row, str) else row
    assert isinstance(meta, dict)
    assert (meta["requests_human"], meta["control"], meta["key"]) == (True, "ivr_key", "0")
    journey = (await client.get(f"/api/v1/journeys/{await journey_of_call(hub)}")).json()
    assert journey["channels"] == ["phone"]  # no link is sent
    texts = [
        m["text"]
        for m in (await client.get(f"/api/v1/customers/{journey['customer_id']}/timeline")).json()[
            "items"
        ]
    ]
    assert texts[-1] == "IVR: asked to talk to a person"


def test_the_person_key_must_not_be_a_menu_choice() -> None:
    with pytest.raises(ValueError, match=r"person_digit: 2 is already a menu choice"):
        ivr(person_digit="2")
    with pytest.raises(ValueError, match=r"person_digit: 1 is already a menu choice"):
        ivr(person_digit="1")
    assert ivr(person_digit="0").config is not None
    outcome = ivr().handle("offer", {"lang": "en"}, "0", "")  # no person key: "0" declines
    assert outcome is not None and outcome.meta == {}
