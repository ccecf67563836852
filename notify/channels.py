"""Delivery channels. A channel's `send(notification)` returns on success and raises DeliveryError on failure
(PermanentDeliveryError when retrying cannot help). Error messages never contain the address in clear.

The registry maps channel names to classes through settings.NOTIFY_CHANNELS; a channel left out is switched off.
Every delivery carries the notification's delivery key (webhook `Idempotency-Key` header, e-mail Message-ID, SMS
gateway idempotency key), so a receiver can drop the duplicate that an at-least-once queue may deliver when a worker
dies between sending and recording the send.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time

import requests
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from notify import conf
from notify.models import Channel, Notification, mask_address

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Lanechief-Signature"
TIMESTAMP_HEADER = "X-Lanechief-Timestamp"
EVENT_HEADER = "X-Lanechief-Event"
DELIVERY_HEADER = "X-Lanechief-Delivery"


class DeliveryError(Exception):
    """The delivery failed and may succeed later (network, timeouts, 5xx, 429)."""


class PermanentDeliveryError(DeliveryError):
    """The delivery failed and retrying will not help (misconfiguration, the receiver refuses the request)."""


class BaseChannel:
    name: str = ""

    def send(self, notification: Notification) -> None:
        raise NotImplementedError


def enabled_channels() -> set[str]:
    return set(conf.get("NOTIFY_CHANNELS"))


def get_channel(name: str) -> BaseChannel:
    path = conf.get("NOTIFY_CHANNELS").get(name)
    if not path:
        raise PermanentDeliveryError(_("渠道 %(channel)s 未启用(settings.NOTIFY_CHANNELS)。") % {"channel": name})
    return import_string(path)()


def delivery_body(notification: Notification) -> dict:
    """What a webhook receives (and what e-mail and SMS texts are rendered from)."""
    return {
        "event": notification.event,
        "delivery_key": notification.delivery_key,
        "notification_id": notification.pk,
        "recipient": {
            "kind": notification.recipient_kind,
            "id": notification.recipient_id,
            "name": notification.recipient_name,
        },
        "payload": notification.payload,
        "created_at": notification.created_at.isoformat() if notification.created_at else None,
    }


def render_title(notification: Notification) -> str:
    """payload["title"], else settings.NOTIFY_EVENT_TITLES[event], else the event name."""
    titles = conf.get("NOTIFY_EVENT_TITLES")
    return str(notification.payload.get("title") or titles.get(notification.event) or notification.event)


def render_text(notification: Notification) -> str:
    """payload["text"] when the caller wrote one, otherwise one "key: value" line per payload item."""
    payload = notification.payload
    if payload.get("text"):
        return str(payload["text"])
    lines = [f"{key}: {value}" for key, value in payload.items() if key != "title" and value not in (None, "")]
    return "\n".join(lines)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex, prefixed "sha256=". Receivers recompute it with the shared
    secret and compare in constant time (and refuse old timestamps)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookChannel(BaseChannel):
    """POSTs the delivery body as JSON to the endpoint URL, signed with settings.NOTIFY_WEBHOOK_SECRET. Any 2xx is
    success; redirects are not followed; 408/425/429 and 5xx are retried, other statuses are permanent failures."""

    name = Channel.WEBHOOK

    def send(self, notification: Notification) -> None:
        secret = conf.get("NOTIFY_WEBHOOK_SECRET")
        if not secret:
            raise PermanentDeliveryError(_("未设置 NOTIFY_WEBHOOK_SECRET:Webhook 无法签名,请在环境中设置后重新发送。"))
        body = json.dumps(delivery_body(notification), ensure_ascii=False, sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "lanechief-notify/1",
            EVENT_HEADER: notification.event,
            DELIVERY_HEADER: notification.delivery_key,
            "Idempotency-Key": notification.delivery_key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
        timeout = (conf.get("NOTIFY_WEBHOOK_CONNECT_TIMEOUT"), conf.get("NOTIFY_WEBHOOK_TIMEOUT"))
        try:
            response = requests.post(
                notification.address, data=body, headers=headers, timeout=timeout, allow_redirects=False
            )
        except requests.Timeout:
            raise DeliveryError(_("Webhook 超时")) from None
        except requests.RequestException as exc:
            # str(exc) names the URL (which may carry a token): only the exception type is kept.
            raise DeliveryError(_("Webhook 连接失败(%(error)s)") % {"error": type(exc).__name__}) from None
        status = response.status_code
        response.close()
        if 200 <= status < 300:
            return
        message = _("Webhook 返回 HTTP %(status)s") % {"status": status}
        if status in (408, 425, 429) or status >= 500:
            raise DeliveryError(message)
        raise PermanentDeliveryError(message)


class EmailChannel(BaseChannel):
    """Sends a plain-text e-mail through Django's e-mail backend. The Message-ID is derived from the delivery key,
    so a duplicate send has the same Message-ID."""

    name = Channel.EMAIL

    def send(self, notification: Notification) -> None:
        digest = hashlib.sha256(notification.delivery_key.encode()).hexdigest()[:32]
        domain = notification.address.rpartition("@")[2] or "localhost"
        message = EmailMessage(
            subject=f"{conf.get('NOTIFY_EMAIL_SUBJECT_PREFIX')}{render_title(notification)}",
            body=render_text(notification),
            from_email=conf.get("NOTIFY_EMAIL_FROM") or settings.DEFAULT_FROM_EMAIL,
            to=[notification.address],
            headers={"Message-ID": f"<{digest}@notify.{domain}>", DELIVERY_HEADER: notification.delivery_key},
            connection=get_connection(fail_silently=False),
        )
        try:
            sent = message.send()
        except smtplib.SMTPRecipientsRefused:
            raise PermanentDeliveryError(_("邮件服务器拒绝了收件地址")) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(_("邮件发送失败(%(error)s)") % {"error": type(exc).__name__}) from None
        if sent != 1:
            raise DeliveryError(_("邮件未发送"))


class SmsGateway:
    """An SMS provider. `send` returns on success and raises DeliveryError on failure. Implementations must not
    log the phone number in clear (use notify.models.mask_address)."""

    def send(self, *, phone: str, text: str, idempotency_key: str) -> None:
        raise NotImplementedError


class LoggingSmsGateway(SmsGateway):
    """The default gateway: sends nothing, logs the message with the number masked (138****5678)."""

    def send(self, *, phone: str, text: str, idempotency_key: str) -> None:
        masked = mask_address(Channel.SMS, phone)
        logger.info(
            "SMS to %s (%d characters), key %s: %s",
            masked,
            len(text),
            idempotency_key,
            text.replace(phone, masked) if phone else text,
        )


class SmsChannel(BaseChannel):
    """Texts the title (and the text, when the payload has one) through settings.NOTIFY_SMS_GATEWAY."""

    name = Channel.SMS

    def __init__(self, gateway: SmsGateway | None = None) -> None:
        self.gateway = gateway or import_string(conf.get("NOTIFY_SMS_GATEWAY"))()

    def send(self, notification: Notification) -> None:
        text = render_title(notification)
        if notification.payload.get("text"):
            text = f"{text}:{notification.payload['text']}"
        self.gateway.send(phone=notification.address, text=text, idempotency_key=notification.delivery_key)
