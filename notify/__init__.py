"""Notifications: notify(event=..., recipients=[Recipient(...)], payload=..., delivery_key=...) in notify.services."""

from notify.recipients import Recipient

__all__ = ["Recipient"]
