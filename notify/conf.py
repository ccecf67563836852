"""Settings of the notify app, each with a default (override any of them in config/settings.py)."""

from django.conf import settings

DEFAULTS = {
    # Channel name -> dotted path of a notify.channels.Channel subclass. A channel missing here is switched off:
    # endpoints of that channel get no notifications.
    "NOTIFY_CHANNELS": {
        "webhook": "notify.channels.WebhookChannel",
        "email": "notify.channels.EmailChannel",
        "sms": "notify.channels.SmsChannel",
    },
    # Webhooks: HMAC-SHA256 key for the X-Lanechief-Signature header (required to send webhooks), timeouts (s).
    "NOTIFY_WEBHOOK_SECRET": "",
    "NOTIFY_WEBHOOK_CONNECT_TIMEOUT": 5.0,
    "NOTIFY_WEBHOOK_TIMEOUT": 10.0,
    # Titles of events for e-mail subjects and SMS texts when the payload has no "title", e.g.
    # {"case.dispatched": "案件派遣"}; otherwise the event name is used.
    "NOTIFY_EVENT_TITLES": {},
    # E-mail: sender (None: settings.DEFAULT_FROM_EMAIL) and subject prefix.
    "NOTIFY_EMAIL_FROM": None,
    "NOTIFY_EMAIL_SUBJECT_PREFIX": "[街巷长制] ",
    # SMS: dotted path of a notify.channels.SmsGateway subclass. The default only logs (with the number masked).
    "NOTIFY_SMS_GATEWAY": "notify.channels.LoggingSmsGateway",
    # Retries of a failing delivery: at most this many retries after the first attempt, waiting
    # NOTIFY_RETRY_EXPONENTIAL_WAIT ** n seconds before retry n (defaults: 6 retries, 5 s ... 4.3 h apart).
    "NOTIFY_MAX_RETRIES": 6,
    "NOTIFY_RETRY_EXPONENTIAL_WAIT": 5,
    # Reconciliation (every 5 minutes): notifications still queued with no waiting or running job, older than
    # this many seconds, get a new job; after NOTIFY_MAX_ATTEMPTS delivery attempts they are marked failed.
    "NOTIFY_RECONCILE_AFTER_S": 120,
    "NOTIFY_MAX_ATTEMPTS": 20,
    # Finished procrastinate jobs are deleted after this many days (failed ones are kept twice as long).
    "NOTIFY_KEEP_FINISHED_JOBS_DAYS": 30,
}


def get(name: str):
    return getattr(settings, name, DEFAULTS[name])
