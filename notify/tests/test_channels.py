"""Channels on their own (no queue): rendering, configuration errors, the SMS gateway seam."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from notify.channels import (
    EmailChannel,
    PermanentDeliveryError,
    SmsChannel,
    SmsGateway,
    WebhookChannel,
    get_channel,
)
from notify.models import Notification


def make(channel: str, address: str, payload: dict, event: str = "case.dispatched") -> Notification:
    return Notification(
        pk=5,
        event=event,
        recipient_kind="squad",
        recipient_id=7,
        recipient_name="南京东路市容中队",
        channel=channel,
        address=address,
        payload=payload,
        delivery_key=f"case:42:dispatch:v1:squad:7:{channel}",
        created_at=timezone.now(),
    )


def test_email_without_title_or_text_uses_event_titles_and_payload_lines(settings):
    settings.NOTIFY_EVENT_TITLES = {"case.dispatched": "案件派遣"}
    mail.outbox.clear()
    EmailChannel().send(make("email", "a@example.org", {"tracking_code": "HP-0042", "lane": "福州路", "x": None}))

    [message] = mail.outbox
    assert message.subject == "[街巷长制] 案件派遣"
    assert message.body == "tracking_code: HP-0042\nlane: 福州路"


def test_webhook_without_secret_is_a_permanent_failure(settings):
    settings.NOTIFY_WEBHOOK_SECRET = ""
    with pytest.raises(PermanentDeliveryError, match="NOTIFY_WEBHOOK_SECRET"):
        WebhookChannel().send(make("webhook", "http://127.0.0.1:9/x", {}))


def test_switched_off_channel_is_a_permanent_failure(settings):
    settings.NOTIFY_CHANNELS = {"email": "notify.channels.EmailChannel"}
    assert isinstance(get_channel("email"), EmailChannel)
    with pytest.raises(PermanentDeliveryError):
        get_channel("sms")


def test_sms_channel_hands_title_text_and_key_to_the_configured_gateway():
    sent = []

    class Recording(SmsGateway):
        def send(self, *, phone, text, idempotency_key):
            sent.append((phone, text, idempotency_key))

    SmsChannel(gateway=Recording()).send(make("sms", "13812345678", {"title": "督办", "text": "请今日处理"}))
    assert sent == [("13812345678", "督办:请今日处理", "case:42:dispatch:v1:squad:7:sms")]
