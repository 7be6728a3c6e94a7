"""Signals other apps listen to, so accounts never imports them."""

from django.dispatch import Signal

# Sent after a user's exchange credentials were stored and checked; kwargs: ``account``.
# Position tracking listens to resume a subscription paused for invalid credentials.
exchange_credentials_checked = Signal()

# Sent inside the transaction that renames an account (its row locked); kwargs: ``account``.
# Position tracking listens to drop the cached positions that carry the old label.
exchange_account_renamed = Signal()

# Sent inside the transaction that deletes an account, before the delete; kwargs:
# ``account``, ``purge``. Position tracking drops its cache entry (and history if purge).
exchange_account_deleting = Signal()
