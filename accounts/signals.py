"""Signals other layers listen to (side effects only: logging, notifications)."""

from django.dispatch import Signal

# Sent after a user's password was set or changed and saved. Arguments: user.
password_changed = Signal()
