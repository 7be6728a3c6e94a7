"""Register a new key with the KuCoin simulator that `make run` started, and print it.

The key holds the demo portfolio (two futures positions whose mark prices move, spot
balances) and survives restarts of `make run` (the simulator keeps it in VAR_DIR). Give
it to a user at signup (``"kucoin": {…}``) or with ``PUT /api/v1/me/kucoin``.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

# Written by the launcher (make run) when it starts the KuCoin simulator.
SIMULATOR_URL_FILE = "kucoin-simulator.url"


class Command(BaseCommand):
    help = "Register a new KuCoin key (with demo positions) with make run's KuCoin simulator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", help=f"the simulator's base URL (default: from VAR_DIR/{SIMULATOR_URL_FILE})"
        )

    def handle(self, *args: Any, url: str | None = None, **options: Any) -> None:
        base = url or _running_simulator()
        key = {
            "api_key": secrets.token_hex(12),
            "api_secret": secrets.token_urlsafe(24),
            "api_passphrase": secrets.token_urlsafe(12),
        }
        try:
            answer = httpx.post(f"{base}/_sim/keys", json={**key, "demo": True}, timeout=5)
        except httpx.HTTPError as exc:
            raise CommandError(f"the KuCoin simulator at {base} did not answer ({exc}): "
                               "is `make run` running?") from exc  # fmt: skip
        if answer.status_code != 200:
            raise CommandError(f"the simulator refused the key: {answer.status_code} {answer.text}")
        self.stdout.write(
            "A simulator KuCoin key with demo positions (kept across restarts of make run):\n"
            f"  api_key        {key['api_key']}\n"
            f"  api_secret     {key['api_secret']}\n"
            f"  api_passphrase {key['api_passphrase']}\n"
            "At signup, add to the JSON body:\n"
            f'  "kucoin": {json.dumps(key)}\n'
            "or for a signed-in user: PUT /api/v1/me/kucoin with that object."
        )


def _running_simulator() -> str:
    path = Path(settings.VAR_DIR) / SIMULATOR_URL_FILE
    if not path.is_file():
        raise CommandError(f"{path} does not exist: start `make run` first, or pass --url.")
    return path.read_text(encoding="utf-8").strip()
