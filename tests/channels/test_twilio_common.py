"""X-Twilio-Signature as the twilio SDK computes it, Twilio's API errors, shared settings.

Also the helpers the other Twilio tests use: requests signed with the SDK's RequestValidator.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from tests.conftest import SHARED
from twilio.request_validator import RequestValidator

from relaydesk.channels.base import (
    ChannelMisconfigured,
    PermanentSendError,
    SignatureError,
    TransientSendError,
    WebhookRequest,
)
from relaydesk.channels.twilio_common import (
    TwilioConfig,
    redact_numbers,
    twilio_failure,
    verify_twilio,
)

FIXTURES = SHARED / "fixtures" / "channels"
TOKEN = "test-twilio-auth-token-0123456789"
TOKEN_ENV = "TEST_TWILIO_AUTH_TOKEN"
ACCOUNT = "AC" + "0" * 32
HOST = "http://relaydesk.test"


def fixture_fields(folder: str, name: str) -> list[tuple[str, str]]:
    text = (FIXTURES / folder / name).read_text().strip()
    return parse_qsl(text, keep_blank_values=True)


class _Params(dict[str, list[str]]):
    def getall(self, name: str) -> list[str]:
        return self[name]


def twilio_signature(url: str, fields: list[tuple[str, str]], token: str = TOKEN) -> str:
    """What Twilio puts in X-Twilio-Signature, computed by the SDK."""
    params = _Params()
    for name, value in fields:
        params.setdefault(name, []).append(value)
    return str(RequestValidator(token).compute_signature(url, params))


async def post_signed(
    http: httpx.AsyncClient,
    url: str,
    fields: list[tuple[str, str]],
    *,
    signed_url: str | None = None,
    token: str = TOKEN,
    signature: str | None = None,
) -> httpx.Response:
    """POST a form as Twilio does: signed over the URL it calls and every field."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature != "":
        headers["X-Twilio-Signature"] = signature or twilio_signature(
            signed_url or url, fields, token
        )
    return await http.post(url, content=urlencode(fields).encode(), headers=headers)


def request_for(
    url: str, body: str, headers: dict[str, str], content_type: str | None = None
) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        url=url,
        headers={
            "content-type": content_type or "application/x-www-form-urlencoded",
            **{k.lower(): v for k, v in headers.items()},
        },
        query=parse_qsl(url.partition("?")[2]),
        body=body.encode(),
    )


@pytest.fixture
def vector() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (FIXTURES / "twilio_messaging" / "request_validator_vector.json").read_text()
    )
    return data


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> TwilioConfig:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return TwilioConfig(account_sid=ACCOUNT, auth_token=f"env:{TOKEN_ENV}")


def test_the_sdk_reproduces_its_own_vector(vector: dict[str, Any]) -> None:
    validator = RequestValidator(vector["auth_token"])
    assert (
        validator.compute_signature(vector["url"], vector["params"])
        == (vector["expected_signature"])
    )
    assert validator.compute_hash(vector["json_body"]) == vector["json_body_sha256"]


def test_the_vector_verifies_and_tampering_does_not(
    vector: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VECTOR_TOKEN", vector["auth_token"])
    config = TwilioConfig(account_sid=ACCOUNT, auth_token="env:VECTOR_TOKEN")
    # the voice fixture holds the vector's params: a Gather action POST with Digits
    body = (FIXTURES / "twilio_voice" / "gather_action_digits.form").read_text().strip()
    assert dict(parse_qsl(body)) == vector["params"]
    good = {"X-Twilio-Signature": vector["expected_signature"]}
    verify_twilio(request_for(vector["url"], body, good), config)
    for url, changed in (
        (vector["url"], body.replace("Digits=1234", "Digits=1235")),  # a changed field
        (vector["url"] + "&baz=3", body),  # a changed URL
        (vector["url"].replace("https", "http"), body),
        (vector["url"], body + "&Extra=1"),  # an added field
    ):
        with pytest.raises(SignatureError):
            verify_twilio(request_for(url, changed, good), config)
    with pytest.raises(SignatureError, match="missing"):
        verify_twilio(request_for(vector["url"], body, {}), config)


def test_json_webhooks_are_checked_by_body_hash(
    vector: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VECTOR_TOKEN", vector["auth_token"])
    config = TwilioConfig(account_sid=ACCOUNT, auth_token="env:VECTOR_TOKEN")
    url = f"{vector['url']}&bodySHA256={vector['json_body_sha256']}"  # as in the SDK's test
    headers = {"X-Twilio-Signature": vector["json_body_signature_for_url_with_bodySHA256"]}
    verify_twilio(request_for(url, vector["json_body"], headers, "application/json"), config)
    tampered = vector["json_body"].replace("true", "false")
    with pytest.raises(SignatureError):
        verify_twilio(request_for(url, tampered, headers, "application/json"), config)


@pytest.mark.parametrize(
    ("signed", "called"),
    [
        ("https://support.example.com:443/hooks/sms", "https://support.example.com/hooks/sms"),
        ("https://support.example.com/hooks/sms", "https://support.example.com:443/hooks/sms"),
        ("http://support.example.com:80/hooks/sms?x=1", "http://support.example.com/hooks/sms?x=1"),
    ],
)
def test_urls_with_and_without_the_default_port(
    config: TwilioConfig, signed: str, called: str
) -> None:
    fields = fixture_fields("twilio_messaging", "inbound_sms.form")
    headers = {"X-Twilio-Signature": twilio_signature(signed, fields)}
    verify_twilio(request_for(called, urlencode(fields), headers), config)


def test_repeated_fields_and_encoded_query(config: TwilioConfig) -> None:
    url = "https://support.example.com/hooks/sms?step=a%20b&x=%2B1"
    fields = [("MediaUrl", "https://b.example"), ("MediaUrl", "https://a.example"), ("A", "")]
    headers = {"X-Twilio-Signature": twilio_signature(url, fields)}
    verify_twilio(request_for(url, urlencode(fields), headers), config)
    with pytest.raises(SignatureError):  # the query exactly as called, not decoded
        verify_twilio(request_for(url.replace("%20", "+"), urlencode(fields), headers), config)


def test_a_wrong_token_or_garbage_is_refused(config: TwilioConfig) -> None:
    url = "https://support.example.com/hooks/sms"
    fields = fixture_fields("twilio_messaging", "inbound_sms.form")
    for signature in (twilio_signature(url, fields, "another-token"), "x" * 28, "ä" * 3):
        with pytest.raises(SignatureError):
            verify_twilio(
                request_for(url, urlencode(fields), {"X-Twilio-Signature": signature}), config
            )


def test_shared_key_signatures(config: TwilioConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://support.example.com/hooks/sms"
    fields = fixture_fields("twilio_messaging", "inbound_sms.form")
    params = _Params({k: [v] for k, v in fields})
    signature = RequestValidator("shared-key-secret").compute_signature(url, params, "HMAC_SHA256")
    headers = {
        "X-Twilio-Signature": signature,
        "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_01,algorithm=HMAC_SHA256",
    }
    request = request_for(url, urlencode(fields), headers)
    with pytest.raises(SignatureError, match="signing_key"):
        verify_twilio(request, config)
    monkeypatch.setenv("TEST_TWILIO_SHARED_KEY", "shared-key-secret")
    keyed = config.model_copy(update={"signing_key": "env:TEST_TWILIO_SHARED_KEY"})
    verify_twilio(request, keyed)
    with pytest.raises(SignatureError):  # the auth token's SHA-1 signature is not accepted then
        verify_twilio(
            request_for(
                url,
                urlencode(fields),
                {**headers, "X-Twilio-Signature": twilio_signature(url, fields)},
            ),
            keyed,
        )


def test_a_missing_secret_is_a_configuration_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    config = TwilioConfig(account_sid=ACCOUNT, auth_token="env:TEST_TWILIO_NOT_SET")
    request = request_for("https://x.example/hooks/sms", "A=1", {"X-Twilio-Signature": "x"})
    with pytest.raises(ChannelMisconfigured, match="TEST_TWILIO_NOT_SET"):
        verify_twilio(request, config)


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers or {})


def test_api_errors_are_mapped() -> None:
    busy = twilio_failure(
        _response(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "7"}),
        "Messages API",
    )
    assert isinstance(busy, TransientSendError) and busy.retry_after == 7
    assert isinstance(twilio_failure(_response(503, {}), "Messages API"), TransientSendError)
    auth = twilio_failure(_response(401, {"code": 20003, "message": "Authenticate"}), "x")
    assert isinstance(auth, ChannelMisconfigured) and "auth_token" in str(auth)
    stop = twilio_failure(
        _response(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}),
        "Messages API",
    )
    assert isinstance(stop, PermanentSendError)
    assert stop.code == "21610" and stop.opted_out and "opted out" in str(stop)
    invalid = twilio_failure(
        _response(400, {"code": 21211, "message": "The 'To' number +46709876543 is not valid"}),
        "Messages API",
    )
    assert isinstance(invalid, PermanentSendError) and invalid.code == "21211"
    assert not invalid.opted_out
    unknown = twilio_failure(
        _response(400, {"code": 99999, "message": "Odd: +46 70 987 65 43 refused"}), "x"
    )
    assert "46" not in str(unknown) and "99999" in str(unknown)
    bare = twilio_failure(httpx.Response(404, text="not found"), "x")
    assert isinstance(bare, PermanentSendError) and bare.code == "404"


def test_numbers_are_redacted_from_error_text() -> None:
    assert redact_numbers("To +46709876543 and (070) 987-65-43, code 21610") == (
        "To … and …, code 21610"
    )


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="account_sid"):
        TwilioConfig(account_sid="SK123", auth_token="env:X")
    with pytest.raises(ValueError, match="phone_number"):
        TwilioConfig(account_sid=ACCOUNT, auth_token="env:X", phone_number="12")
    config = TwilioConfig(
        account_sid=ACCOUNT, auth_token="env:X", phone_number="whatsapp:+1 415 523 8886"
    )
    assert config.phone_number == "+14155238886"
    assert config.api_url("Messages.json") == (
        f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    )


def test_failed_signatures_log_no_personal_data(
    config: TwilioConfig, caplog: pytest.LogCaptureFixture
) -> None:
    fields = fixture_fields("twilio_messaging", "inbound_sms.form")
    with caplog.at_level(logging.DEBUG), pytest.raises(SignatureError) as caught:
        verify_twilio(
            request_for(f"{HOST}/hooks/sms", urlencode(fields), {"X-Twilio-Signature": "x"}),
            config,
        )
    assert "+4670" not in str(caught.value) and "order" not in caplog.text
