"""Facebook Messenger for a Page (``kind: messenger``); Instagram reuses it (instagram.py).

Inbound: the app's ``page`` webhook, signed with the App Secret. The sender is a Page-scoped
id (PSID) the provider asserts: a handle of kind ``messenger`` scoped to this channel. Text,
quick replies, postbacks (``meta.payload``; "talk to a person" payloads such as
``HUMAN_AGENT`` set ``meta.requests_human`` and ``meta.control``), attachments and reactions
become messages; ``delivery`` lists the delivered message ids (or only a watermark); echoes
(what the Page itself sent) are not customer messages and are skipped. ``read`` carries a
watermark: every message sent to that person before it counts as read.

Outbound: the Send API, ``POST {base_url}/{api_version}/{page_id}/messages`` with the Page
access token: ``messaging_type=RESPONSE`` within 24 h of the customer's last message;
after that only ``MESSAGE_TAG`` with ``HUMAN_AGENT`` (a person replying, up to 7 days).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx
from pydantic import Field

from relaydesk import clock
from relaydesk.channels.base import (
    Capabilities,
    ChannelConfig,
    DeliveryUpdate,
    InboundMessage,
    OutboundMessage,
    ParsedWebhook,
    PermanentSendError,
    Sender,
    SendResult,
    Watermark,
    WebhookRequest,
    resolve_secret,
)
from relaydesk.channels.content import text_with_choices
from relaydesk.channels.meta_common import (
    MESSENGER_REASONS,
    MetaAppConfig,
    MetaWebhookAdapter,
    Reasons,
    buttons_fit,
    dicts,
    envelope,
    from_millis,
    log,
    obj,
    payload_meta,
    post_graph,
)
from relaydesk.customers.identities import Assurance, IdentityKey, identity_key

REPLY_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
MAX_PAYLOAD = 1000


class PageChannelConfig(MetaAppConfig):
    page_id: str = Field(pattern=r"^\d+$")
    page_access_token: str
    """env:NAME of a Page access token with pages_messaging."""


class MessengerChannel(MetaWebhookAdapter):
    kind: ClassVar[str] = "messenger"
    Config: ClassVar[type[ChannelConfig]] = PageChannelConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        buttons=True,
        max_text_length=2000,
        channel_class="messaging",
        reply_window=REPLY_WINDOW,
        outside_window="tag",
        receipts=True,
    )
    supports_buttons: ClassVar[bool] = True
    max_buttons: ClassVar[int | None] = MAX_QUICK_REPLIES
    label: ClassVar[str] = "Messenger"
    webhook_object: ClassVar[str] = "page"
    subscribe_fields: ClassVar[tuple[str, ...]] = (
        "messages",
        "messaging_postbacks",
        "message_deliveries",
        "message_reads",
        "message_echoes",
        "message_reactions",
    )
    allowed_tags: ClassVar[frozenset[str]] = frozenset(
        {"HUMAN_AGENT", "ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE"}
    )
    max_text_bytes: ClassVar[int | None] = None
    reasons: ClassVar[Reasons] = MESSENGER_REASONS

    @property
    def settings(self) -> PageChannelConfig:
        assert isinstance(self.config, PageChannelConfig)
        return self.config

    def account_id(self) -> str | None:
        """The id in ``entry.id`` of this channel's notifications (others are skipped)."""
        return self.settings.page_id

    def describe(self) -> dict[str, Any]:
        return {
            "webhook": f"/hooks/{self.name}",
            "subscribe_fields": list(self.subscribe_fields),
            "page_id": self.settings.page_id,
        }

    # --- inbound ---------------------------------------------------------------------------

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        kind, entries = envelope(request)
        parsed = ParsedWebhook()
        if kind != self.webhook_object:
            log.warning("channel %s ignored a webhook for object %r", self.name, kind[:40])
            return parsed
        ours, foreign = self.account_id(), 0
        for entry in entries:
            account = str(entry.get("id", ""))
            if ours and account and account != ours:
                foreign += 1  # another Page/account of the same app: not this channel's
                continue
            for event in dicts(entry.get("messaging")):
                self._event(event, parsed)
        if foreign:
            log.info("channel %s skipped %d entr(ies) for other accounts", self.name, foreign)
        return parsed

    def _event(self, event: dict[str, Any], parsed: ParsedWebhook) -> None:
        sender = str(obj(event.get("sender")).get("id", ""))
        at = from_millis(event.get("timestamp"))
        inbound: InboundMessage | None = None
        if "message" in event:
            message = obj(event["message"])
            if message.get("is_echo"):
                return  # sent by the Page (our replies, or a person in Meta's inbox)
            inbound = self._message(sender, message, at)
        elif "postback" in event:
            inbound = self._postback(sender, obj(event["postback"]), at, event.get("timestamp"))
        elif "reaction" in event:
            inbound = self._reaction(sender, obj(event["reaction"]), at, event.get("timestamp"))
        elif "delivery" in event:
            delivery = obj(event["delivery"])
            when = from_millis(delivery.get("watermark")) or at
            mids = delivery.get("mids")
            for mid in mids if isinstance(mids, list) else []:
                parsed.deliveries.append(DeliveryUpdate(str(mid), "delivered", at=when))
            if not mids and when is not None and sender:
                parsed.watermarks.append(Watermark(self._key(sender), "delivered", when))
        elif "read" in event:
            read = obj(event["read"])
            watermark = from_millis(read.get("watermark"))
            if read.get("mid"):  # Instagram names the message seen
                parsed.deliveries.append(DeliveryUpdate(str(read["mid"]), "read", at=at))
            elif watermark is not None and sender:  # Messenger: everything sent before it
                parsed.watermarks.append(Watermark(self._key(sender), "read", watermark))
        if inbound is not None:
            parsed.messages.append(inbound)

    def _key(self, sender_id: str) -> IdentityKey:
        return identity_key(self.kind, sender_id, scope=self.name)

    def _sender(self, sender_id: str) -> Sender:
        return Sender(identities=((self._key(sender_id), Assurance.PROVIDER.value),))

    def _reply_to(self, sender_id: str, at: datetime | None) -> dict[str, Any]:
        """Where replies go, and when the customer last wrote (for the HUMAN_AGENT limit)."""
        reply_to: dict[str, Any] = {"recipient": sender_id}
        if at is not None:
            reply_to["last_inbound_at"] = at.isoformat()
        return reply_to

    def _inbound(
        self,
        sender_id: str,
        external_id: str,
        text: str,
        at: datetime | None,
        meta: dict[str, Any],
        *,
        opens_window: bool = True,
        refs: tuple[str, ...] = (),
    ) -> InboundMessage | None:
        if not sender_id or not external_id:
            log.warning("channel %s skipped an event without sender/id", self.name)
            return None
        return InboundMessage(
            channel=self.name,
            external_id=external_id,
            sender=self._sender(sender_id),
            text=text,
            sent_at=at,
            meta=meta,
            reply_to=self._reply_to(sender_id, at) if opens_window else {},
            opens_window=opens_window,
            thread_refs=refs,
        )

    def _message(
        self, sender_id: str, message: dict[str, Any], at: datetime | None
    ) -> InboundMessage | None:
        if message.get("is_deleted"):
            return None  # the customer unsent a message; there is nothing to store
        meta: dict[str, Any] = {}
        quick = obj(message.get("quick_reply"))
        if quick:
            meta = payload_meta("quick_reply", quick.get("payload"), self.settings.human_payloads)
        attachments = [
            {"type": item.get("type"), **obj(item.get("payload"))}
            for item in dicts(message.get("attachments"))
        ]
        if attachments:
            meta["attachments"] = attachments
        if message.get("is_unsupported"):
            meta["kind"] = "unsupported"
        reply = obj(message.get("reply_to"))
        refs = (str(reply["mid"]),) if reply.get("mid") else ()
        if refs:
            meta["in_reply_to"] = refs[0]
        if reply.get("story"):
            meta["story_reply"] = reply["story"]
        if message.get("referral"):
            meta["referral"] = message["referral"]
        return self._inbound(
            sender_id,
            str(message.get("mid", "")),
            str(message.get("text", "")),
            at,
            meta,
            refs=refs,
        )

    def _postback(
        self, sender_id: str, postback: dict[str, Any], at: datetime | None, stamp: Any
    ) -> InboundMessage | None:
        title = str(postback.get("title", ""))
        meta = payload_meta(
            "postback", postback.get("payload"), self.settings.human_payloads, title=title or None
        )
        if postback.get("referral"):
            meta["referral"] = postback["referral"]
        external_id = str(postback.get("mid") or f"postback:{sender_id}:{stamp}")
        return self._inbound(sender_id, external_id, title, at, meta)

    def _reaction(
        self, sender_id: str, reaction: dict[str, Any], at: datetime | None, stamp: Any
    ) -> InboundMessage | None:
        if reaction.get("action") != "react":
            return None  # "unreact": nothing to show
        mid = str(reaction.get("mid", ""))
        emoji = str(reaction.get("emoji") or reaction.get("reaction") or "")
        meta = {"kind": "reaction", "reacted_to": mid or None, "reaction": reaction.get("reaction")}
        return self._inbound(
            sender_id,
            f"reaction:{mid}:{sender_id}:{stamp}",
            emoji,
            at,
            meta,
            opens_window=False,
            refs=(mid,) if mid else (),
        )

    # --- outbound --------------------------------------------------------------------------

    @classmethod
    def address_from_identities(
        cls, identities: list[tuple[str, str, str]], channel_name: str
    ) -> dict[str, Any] | None:
        ids = [v for kind, scope, v in identities if kind == cls.kind and scope == channel_name]
        return {"recipient": ids[0]} if ids else None

    def _messaging_type(self, message: OutboundMessage) -> dict[str, str]:
        """RESPONSE inside the 24 h window; MESSAGE_TAG (HUMAN_AGENT ≤ 7 days) after it."""
        last = _parse_time(message.reply_to.get("last_inbound_at"))
        age = clock.now() - last if last is not None else None
        if age is not None and age <= REPLY_WINDOW:
            return {"messaging_type": "RESPONSE"}
        if not message.tag:
            if age is None:
                return {"messaging_type": "RESPONSE"}  # unknown here: Meta decides
            raise PermanentSendError(
                f"{self.label}: the customer's last message is older than 24 h; only a reply "
                "tagged HUMAN_AGENT (a person, within 7 days) may be sent now",
                "window_closed",
            )
        tag = message.tag.upper()
        if tag not in self.allowed_tags:
            allowed = ", ".join(sorted(self.allowed_tags))
            raise PermanentSendError(
                f"{self.label} does not accept the message tag {tag!r} (allowed: {allowed})",
                "bad_tag",
            )
        if tag == "HUMAN_AGENT" and age is not None and age > HUMAN_AGENT_WINDOW:
            raise PermanentSendError(
                f"{self.label}: the customer's last message is {age.days} days old; a "
                "HUMAN_AGENT reply is allowed only within 7 days of it. Reach the customer on "
                "another channel, or wait for them to write again",
                "human_agent_window_closed",
            )
        return {"messaging_type": "MESSAGE_TAG", "tag": tag}

    def _message_body(self, message: OutboundMessage) -> dict[str, Any]:
        text, buttons = message.text, message.buttons
        if buttons_fit(buttons, MAX_QUICK_REPLIES, MAX_QUICK_REPLY_TITLE, MAX_PAYLOAD):
            body: dict[str, Any] = {
                "text": text,
                "quick_replies": [
                    {"content_type": "text", "title": button.title, "payload": button.id}
                    for button in buttons
                ],
            }
        else:
            text = text_with_choices(text, buttons)
            body = {"text": text}
        limit = self.capabilities.max_text_length
        if (limit is not None and len(text) > limit) or (
            self.max_text_bytes is not None and len(text.encode()) > self.max_text_bytes
        ):
            unit = f"{self.max_text_bytes} bytes" if self.max_text_bytes else f"{limit} characters"
            raise PermanentSendError(f"{self.label} messages are at most {unit}", "too_long")
        return body

    async def send(self, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        recipient = message.reply_to.get("recipient")
        if not recipient:
            raise PermanentSendError(f"no {self.label} recipient to reply to", "no_recipient")
        if message.template:
            raise PermanentSendError(f"{self.label} has no templates; use a tag", "bad_template")
        body = {
            "recipient": {"id": str(recipient)},
            **self._messaging_type(message),
            "message": self._message_body(message),
        }
        settings = self.settings
        token = resolve_secret(settings.page_access_token, "page_access_token")
        answer = await post_graph(
            http,
            settings.graph_url(settings.page_id),
            body,
            token=token,
            app_secret=self.app_secret_for_proof(),
            what=f"{self.label} Send API",
            reasons=self.reasons,
        )
        external_id = answer.get("message_id")
        return SendResult(external_id=str(external_id) if external_id else None)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return clock.as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None
