"""Re-encrypt every stored exchange credential under the newest key.

Rotation: put a new key first in CREDENTIALS_ENCRYPTION_KEYS (keep the old ones after
it), restart, run this command, then drop the old keys.
"""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from cryptotrack.accounts.models import ExchangeAccount
from cryptotrack.core import crypto

_FIELDS = ["api_key_encrypted", "api_secret_encrypted", "api_passphrase_encrypted"]


class Command(BaseCommand):
    help = "Re-encrypt all exchange credentials with the first key of CREDENTIALS_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        with transaction.atomic():
            for account in ExchangeAccount.objects.select_for_update().only("pk", *_FIELDS):
                for field in _FIELDS:
                    setattr(account, field, crypto.rotate(getattr(account, field)))
                account.save(update_fields=_FIELDS)
                rotated += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} exchange account(s)."))
