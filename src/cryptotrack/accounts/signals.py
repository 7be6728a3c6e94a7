"""Signals other apps listen to, so accounts never imports them."""

from django.dispatch import Signal

# Sent after a user's exchange credentials were stored and checked; kwargs: ``account``.
# Position tracking listens to resume a subscription paused for invalid credentials.
exchange_credentials_checked = Signal()
