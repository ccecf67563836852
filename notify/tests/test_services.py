"""notify(), endpoints and the queue rows they write (inside pytest-django's rolled-back test transaction)."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from notify import Recipient
from notify.models import Channel, Endpoint, Notification, Status, mask_address
from notify.services import endpoint_upsert, notification_resend, notify
from notify.tests.helpers import jobs

pytestmark = pytest.mark.django_db

SQUAD = Recipient(kind="squad", id=7, name="南京东路市容中队")
OFFICE = Recipient(kind="street_office", id=3, name="南京东路街道")


class Boom(Exception):
    pass


@pytest.fixture
def endpoints():
    return [
        endpoint_upsert(recipient=SQUAD, channel="webhook", address="https://hooks.example.org/squad/7"),
        endpoint_upsert(recipient=SQUAD, channel="email", address="shirong7@example.org"),
        endpoint_upsert(recipient=OFFICE, channel="sms", address="13812345678"),
    ]


def test_one_notification_and_one_job_per_recipient_and_endpoint(endpoints):
    created = notify(
        event="case.dispatched",
        recipients=[SQUAD, OFFICE],
        payload={"case_id": 42, "title": "案件派遣"},
        delivery_key="case:42:dispatch:v1",
    )

    assert sorted(n.delivery_key for n in created) == [
        "case:42:dispatch:v1:squad:7:email",
        "case:42:dispatch:v1:squad:7:webhook",
        "case:42:dispatch:v1:street_office:3:sms",
    ]
    sms = next(n for n in created if n.channel == Channel.SMS)
    assert (sms.recipient_kind, sms.recipient_id, sms.recipient_name) == ("street_office", 3, "南京东路街道")
    assert sms.address == "13812345678" and sms.status == Status.QUEUED and sms.attempts == 0
    queued = jobs()
    assert len(queued) == 3
    by_notification = {job["args"]["notification_id"]: job for job in queued}
    assert set(by_notification) == {n.pk for n in created}
    for n in created:
        job = by_notification[n.pk]
        assert job["id"] == n.job_id
        assert (job["queue_name"], job["status"]) == ("notifications", "todo")
        assert job["lock"] == job["queueing_lock"] == f"notify.notification:{n.pk}"
        # Job arguments carry the id only: no address or payload is copied into the queue table.
        assert job["args"] == {"notification_id": n.pk}


def test_same_delivery_key_twice_creates_nothing_new(endpoints):
    kwargs = dict(
        event="case.dispatched", recipients=[SQUAD], payload={"case_id": 42}, delivery_key="case:42:dispatch:v1"
    )
    first = notify(**kwargs)
    second = notify(**kwargs)

    assert [n.pk for n in second] == [n.pk for n in first]
    assert Notification.objects.count() == 2
    assert len(jobs()) == 2
    # A new state of the case (new key) is a new notification.
    third = notify(**{**kwargs, "delivery_key": "case:42:dispatch:v2"})
    assert {n.pk for n in third}.isdisjoint(n.pk for n in first)
    assert len(jobs()) == 4


def test_duplicate_recipients_in_one_call_are_notified_once(endpoints):
    renamed = Recipient(kind="squad", id=7, name="另一个名字")
    created = notify(event="e", recipients=[SQUAD, renamed, SQUAD], payload={}, delivery_key="k")
    assert len(created) == 2
    assert {n.recipient_name for n in created} == {SQUAD.name}


def test_rolled_back_caller_transaction_leaves_no_notification_and_no_job(endpoints):
    with pytest.raises(Boom), transaction.atomic():
        notify(event="case.dispatched", recipients=[SQUAD], payload={}, delivery_key="case:1:dispatch:v1")
        assert len(jobs()) == 2  # visible inside the transaction ...
        raise Boom

    assert Notification.objects.count() == 0  # ... and gone with it
    assert jobs() == []


def test_recipients_without_endpoint_inactive_or_filtered_endpoints_get_nothing(endpoints, settings):
    nobody = Recipient(kind="community", id=99)
    assert notify(event="e", recipients=[nobody], payload={}, delivery_key="k1") == []

    endpoint_upsert(recipient=SQUAD, channel="email", address="shirong7@example.org", is_active=False)
    endpoint_upsert(
        recipient=SQUAD, channel="webhook", address="https://hooks.example.org/squad/7", events=["case.supervision"]
    )
    assert notify(event="case.dispatched", recipients=[SQUAD], payload={}, delivery_key="k2") == []
    [supervision] = notify(event="case.supervision", recipients=[SQUAD], payload={}, delivery_key="k3")
    assert supervision.channel == Channel.WEBHOOK

    # A channel switched off in settings gets no notifications.
    settings.NOTIFY_CHANNELS = {"webhook": "notify.channels.WebhookChannel"}
    assert notify(event="any", recipients=[OFFICE], payload={}, delivery_key="k4") == []
    assert len(jobs()) == 1


def test_payload_must_be_json(endpoints):
    with pytest.raises(ValueError, match="JSON"):
        notify(event="e", recipients=[SQUAD], payload={"at": datetime.date(2026, 1, 1)}, delivery_key="k")
    assert Notification.objects.count() == 0 and jobs() == []


def test_recipient_is_validated():
    with pytest.raises(ValueError, match="kind"):
        Recipient(kind="grid_cell", id=1)
    with pytest.raises(ValueError, match="positive"):
        Recipient(kind="squad", id=0)
    assert str(Recipient(kind="district", id=12, name="黄浦区")) == "district:12"


def test_endpoint_addresses_must_fit_their_channel():
    with pytest.raises(ValidationError):
        endpoint_upsert(recipient=SQUAD, channel="email", address="not-an-address")
    with pytest.raises(ValidationError):
        endpoint_upsert(recipient=SQUAD, channel="webhook", address="ftp://example.org/x")
    with pytest.raises(ValidationError):
        endpoint_upsert(recipient=SQUAD, channel="sms", address="call me")
    # The database refuses it too, whatever writes it.
    with pytest.raises(IntegrityError), transaction.atomic():
        Endpoint.objects.create(recipient_kind="squad", recipient_id=7, channel="sms", address="call me")
    # One endpoint per recipient and channel: an upsert changes it.
    endpoint_upsert(recipient=SQUAD, channel="sms", address="13800000000")
    endpoint_upsert(recipient=SQUAD, channel="sms", address="13900000000")
    assert list(Endpoint.objects.values_list("address", flat=True)) == ["13900000000"]


def test_masked_addresses_hide_the_private_part():
    assert mask_address("sms", "13812345678") == "138****5678"
    assert mask_address("sms", "+86 138-1234-5678") == "861****5678"
    assert "1234" not in mask_address("sms", "021-1234")
    assert mask_address("email", "zhang.san@example.org") == "z***@example.org"
    masked = mask_address("webhook", "https://user:pw@hooks.example.org/t/abc?token=xyz")
    assert masked == "https://hooks.example.org/***"


def test_resend_requeues_a_failed_notification_but_never_a_sent_one(endpoints):
    [email, _webhook] = sorted(
        notify(event="e", recipients=[SQUAD], payload={}, delivery_key="k"), key=lambda n: n.channel
    )
    Notification.objects.filter(pk=email.pk).update(status=Status.FAILED, last_error="x", attempts=7)
    # Its job is finished in reality; here the waiting job still holds the queueing lock: no second job.
    again = notification_resend(notification=email)
    assert (again.status, again.last_error, again.attempts) == (Status.QUEUED, "", 7)
    assert len(jobs(lock=f"notify.notification:{email.pk}")) == 1

    Notification.objects.filter(pk=email.pk).update(status=Status.SENT, sent_at=datetime.datetime.now(datetime.UTC))
    with pytest.raises(ValueError):
        notification_resend(notification=email)
