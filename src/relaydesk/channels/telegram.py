"""Telegram bots (kind ``telegram``): Bot API webhooks in, ``sendMessage`` out.

Telegram POSTs one ``Update`` per request with ``X-Telegram-Bot-Api-Secret-Token`` set to the
``secret_token`` given to ``setWebhook`` (a shared secret, not an HMAC: compared in constant
time). Messages are keyed ``<chat id>:<message id>`` in both directions, so a retried update
is a no-op and a customer's reply to one of our messages threads to it.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import httpx
from pydantic import field_validator

from relaydesk.channels.base import (
    Capabilities,
    ChannelAdapter,
    ChannelConfig,
    ChannelMisconfigured,
    ConsentChange,
    InboundMessage,
    OutboundMessage,
    ParsedWebhook,
    PayloadError,
    PermanentSendError,
    Sender,
    SendResult,
    SignatureError,
    TransientSendError,
    WebhookReply,
    WebhookRequest,
    classify_http_failure,
    resolve_secret,
)
from relaydesk.channels.content import Button, human_request, is_human_control
from relaydesk.customers.identities import Assurance, InvalidIdentity, identity_key

SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name)
MAX_CALLBACK_DATA = 64
HUMAN_COMMANDS = frozenset({"/human", "/agent"})
"""Commands that ask for a person (register them with BotFather's /setcommands)."""
MEDIA_KINDS = (
    "photo",
    "video",
    "animation",
    "voice",
    "audio",
    "video_note",
    "document",
    "sticker",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
)


class _RedactBotToken(logging.Filter):
    """httpx logs request URLs at INFO; a Bot API URL carries the bot token."""

    PATTERN = re.compile(r"/bot[^/\s]+/")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.PATTERN.sub("/bot<redacted>/", str(a)) if "/bot" in str(a) else a
                for a in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_RedactBotToken())


class TelegramConfig(ChannelConfig):
    bot_token: str
    """env:NAME of the token BotFather gave."""
    secret_token: str
    """env:NAME of the secret passed to setWebhook (1-256 of A-Z a-z 0-9 _ -)."""
    base_url: str = "https://api.telegram.org"
    buttons: Literal["inline", "reply"] = "inline"
    """Reply buttons as an inline keyboard under the message, or as a one-time reply keyboard."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://api.telegram.org")
        return value.rstrip("/")


def _name(user: dict[str, Any]) -> str | None:
    parts = [str(user.get(k) or "").strip() for k in ("first_name", "last_name")]
    return " ".join(p for p in parts if p) or None


def _media(message: dict[str, Any]) -> str | None:
    return next((kind for kind in MEDIA_KINDS if kind in message), None)


def _text(message: dict[str, Any]) -> str:
    text = message.get("text") or message.get("caption")
    media = _media(message)
    if text:
        return str(text) if media is None else f"[{media}] {text}"
    if media == "sticker":
        return f"[sticker] {message['sticker'].get('emoji', '')}".rstrip()
    if media == "contact":
        return "[contact shared]"
    return f"[{media}]" if media else "[unsupported message]"


def _command(message: dict[str, Any]) -> str | None:
    """The bot command the message starts with (``/human@ShopBot please`` → ``/human``)."""
    text = message.get("text")
    entities = message.get("entities")
    if not isinstance(text, str) or not isinstance(entities, list):
        return None
    first = next((e for e in entities if isinstance(e, dict) and e.get("offset") == 0), None)
    if first is None or first.get("type") != "bot_command":
        return None
    length = first.get("length")
    words = text[: length if isinstance(length, int) else len(text)].split()
    return words[0].split("@", 1)[0].lower() if words else None


def _key(chat_id: object, message_id: object) -> str:
    return f"{chat_id}:{message_id}"


class TelegramChannel(ChannelAdapter):
    kind: ClassVar[str] = "telegram"
    Config: ClassVar[type[ChannelConfig]] = TelegramConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        buttons=True, attachments=False, max_text_length=4096, channel_class="messaging"
    )
    supports_buttons: ClassVar[bool] = True
    """An inline keyboard (or a one-time reply keyboard, ``buttons: reply``)."""

    @property
    def settings(self) -> TelegramConfig:
        assert isinstance(self.config, TelegramConfig)
        return self.config

    def describe(self) -> dict[str, Any]:
        return {
            "webhook": f"/hooks/{self.name}",
            "set_webhook": "call setWebhook with this URL and secret_token",
        }

    async def verify(self, request: WebhookRequest) -> None:
        expected = resolve_secret(self.settings.secret_token, "secret_token").encode()
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            raise SignatureError("missing or wrong X-Telegram-Bot-Api-Secret-Token")

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        update = request.json()
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            raise PayloadError("expected a Telegram Update object with an integer update_id")
        parsed = ParsedWebhook()
        try:
            if isinstance(update.get("message"), dict):
                self._message(update["message"], parsed, edited=False)
            elif isinstance(update.get("edited_message"), dict):
                self._message(update["edited_message"], parsed, edited=True)
            elif isinstance(update.get("callback_query"), dict):
                self._callback(update["callback_query"], parsed)
            elif isinstance(update.get("my_chat_member"), dict):
                self._membership(update["my_chat_member"], parsed)
        except (KeyError, TypeError, ValueError) as exc:
            raise PayloadError(f"unreadable Telegram update: {type(exc).__name__}") from exc
        return parsed  # other update kinds are acknowledged and ignored

    def _sender(self, user: dict[str, Any], message: dict[str, Any] | None = None) -> Sender:
        handle = identity_key("handle", str(int(user["id"])), scope=self.name)
        identities = [(handle, Assurance.PROVIDER.value)]
        contact = (message or {}).get("contact")
        if isinstance(contact, dict) and contact.get("user_id") == user["id"]:
            try:  # a contact the user shared about themselves: Telegram vouches for the phone
                phone = identity_key("phone", str(contact.get("phone_number", "")))
                identities.append((phone, Assurance.PROVIDER.value))
            except InvalidIdentity:
                pass
        return Sender(identities=tuple(identities), name=_name(user))

    def _message(self, message: dict[str, Any], parsed: ParsedWebhook, *, edited: bool) -> None:
        user = message.get("from")
        if not isinstance(user, dict) or user.get("is_bot"):
            return  # channel posts and other bots are not customers
        chat = message["chat"]
        chat_id, message_id = int(chat["id"]), int(message["message_id"])
        external_id = _key(chat_id, message_id)
        if edited:
            external_id += f":edited:{message.get('edit_date', 0)}"
        reply_to: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id}
        thread_key = ""
        if message.get("is_topic_message") and message.get("message_thread_id"):
            thread_key = str(message["message_thread_id"])
            reply_to["message_thread_id"] = int(message["message_thread_id"])
        when = (message.get("edit_date") if edited else None) or message["date"]
        answered = message.get("reply_to_message")
        refs = (_key(chat_id, answered["message_id"]),) if isinstance(answered, dict) else ()
        meta: dict[str, Any] = {"chat_type": chat.get("type"), "update": "message"}
        if edited:
            meta["edited"] = True
        if media := _media(message):
            meta["media"] = media
        if user.get("language_code"):
            meta["language_code"] = user["language_code"]
        command = _command(message) if not edited else None
        if command in HUMAN_COMMANDS:
            meta.update(human_request("command", command=command))
        parsed.messages.append(
            InboundMessage(
                channel=self.name,
                external_id=external_id,
                sender=self._sender(user, message),
                text=(("(edited) " if edited else "") + _text(message)),
                sent_at=datetime.fromtimestamp(int(when), UTC),
                thread_key=thread_key,
                meta=meta,
                reply_to=reply_to,
                thread_refs=refs,
            )
        )

    def _callback(self, query: dict[str, Any], parsed: ParsedWebhook) -> None:
        """A press on an inline button: the button's label becomes the customer's message."""
        user = query["from"]
        parsed.reply = WebhookReply(
            body=json.dumps(
                {"method": "answerCallbackQuery", "callback_query_id": query["id"]}
            ).encode(),
            content_type="application/json",
        )
        source = query.get("message")
        if user.get("is_bot") or not isinstance(source, dict) or "chat" not in source:
            return
        data = str(query.get("data") or "")
        label = data
        keyboard = (source.get("reply_markup") or {}).get("inline_keyboard") or []
        for row in keyboard:
            for button in row:
                if button.get("callback_data") == data:
                    label = str(button.get("text", data))
        chat_id = int(source["chat"]["id"])
        meta: dict[str, Any] = {"update": "callback_query", "chat_type": source["chat"].get("type")}
        if data:
            meta["payload"] = data
            if is_human_control(data):
                meta.update(human_request("inline_button"))
        parsed.messages.append(
            InboundMessage(
                channel=self.name,
                external_id=f"callback:{query['id']}",
                sender=self._sender(user),
                text=label or "[button]",
                meta=meta,
                reply_to={"chat_id": chat_id},
                thread_refs=(_key(chat_id, source["message_id"]),),
            )
        )

    def _membership(self, change: dict[str, Any], parsed: ParsedWebhook) -> None:
        """In a private chat, blocking the bot is an opt-out and unblocking an opt-in."""
        if change["chat"].get("type") != "private":
            return
        status = (change.get("new_chat_member") or {}).get("status")
        user = change["from"]
        handle = identity_key("handle", str(int(user["id"])), scope=self.name)
        if status == "kicked":
            parsed.consent.append(ConsentChange(handle, "revoked", "telegram:blocked"))
        elif status == "member":
            parsed.consent.append(ConsentChange(handle, "granted", "telegram:unblocked"))

    @classmethod
    def address_from_identities(
        cls, identities: list[tuple[str, str, str]], channel_name: str
    ) -> dict[str, Any] | None:
        """A user's private chat with the bot has the user's id (they must have started it)."""
        for kind, scope, value in identities:
            if kind == "handle" and scope == channel_name and value.lstrip("-").isdigit():
                return {"chat_id": int(value)}
        return None

    def _keyboard(self, buttons: tuple[Button, ...]) -> dict[str, Any]:
        if self.settings.buttons == "reply":
            return {
                "keyboard": [[{"text": button.title}] for button in buttons],
                "one_time_keyboard": True,
                "resize_keyboard": True,
            }
        return {
            "inline_keyboard": [
                [{"text": button.title, "callback_data": _callback_data(button, index)}]
                for index, button in enumerate(buttons)
            ]
        }

    def request_body(self, message: OutboundMessage) -> dict[str, Any]:
        """The sendMessage parameters for a reply."""
        chat_id = message.reply_to.get("chat_id")
        if chat_id is None:
            raise PermanentSendError("no Telegram chat to reply to", "no_chat")
        body: dict[str, Any] = {"chat_id": chat_id, "text": message.text}
        if message.reply_to.get("message_id"):
            body["reply_parameters"] = {
                "message_id": message.reply_to["message_id"],
                "allow_sending_without_reply": True,
            }
        if message.reply_to.get("message_thread_id"):
            body["message_thread_id"] = message.reply_to["message_thread_id"]
        if message.buttons:
            body["reply_markup"] = self._keyboard(message.buttons)
        return body

    async def send(self, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        token = resolve_secret(self.settings.bot_token, "bot_token")
        url = f"{self.settings.base_url}/bot{token}/sendMessage"
        body = self.request_body(message)
        for _ in range(2):  # a second try only after a group became a supergroup
            try:
                response = await http.post(url, json=body)
            except httpx.TransportError as exc:
                raise TransientSendError(f"Telegram unreachable: {type(exc).__name__}") from exc
            data = _json(response)
            if response.status_code == 200 and data.get("ok"):
                result = data.get("result") or {}
                chat = (result.get("chat") or {}).get("id", body["chat_id"])
                return SendResult(external_id=_key(chat, result.get("message_id")))
            parameters = data.get("parameters") or {}
            if parameters.get("migrate_to_chat_id"):
                body["chat_id"] = parameters["migrate_to_chat_id"]
                continue
            raise _failure(response, data)
        raise PermanentSendError("Telegram: the chat migrated more than once", "migrated")


def _callback_data(button: Button, index: int) -> str:
    """The button's id comes back on a press; Telegram takes 1-64 bytes (else the index)."""
    return button.id if 0 < len(button.id.encode()) <= MAX_CALLBACK_DATA else str(index)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _failure(response: httpx.Response, data: dict[str, Any]) -> Exception:
    description = str(data.get("description") or "")[:300]
    code = data.get("error_code") or response.status_code
    if response.status_code == 429 or code == 429:
        retry_after = (data.get("parameters") or {}).get("retry_after")
        delay = float(retry_after) if isinstance(retry_after, int | float) else None
        return TransientSendError(f"Telegram: HTTP 429 {description}", delay)
    if response.status_code in (401, 404):
        # Telegram answers an unknown or revoked bot token with 401 (or 404 for a malformed one)
        return ChannelMisconfigured(f"Telegram refused the bot token (HTTP {response.status_code})")
    if response.status_code == 403:
        # "bot was blocked by the user", "user is deactivated": stop writing to them here
        return PermanentSendError(f"Telegram: HTTP 403 {description}", "403", opted_out=True)
    if response.status_code >= 500 or not description:
        return classify_http_failure(response, "Telegram")
    return PermanentSendError(f"Telegram: HTTP {response.status_code} {description}", str(code))
