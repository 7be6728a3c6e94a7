"""Exchange secrets never appear in the database in any form: raw, base64 or hex."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)

SECRETS = {
    "api_key": "64b7e0c1d2e3f40001a2b3c4",
    "api_secret": "5f1e2d3c-4b5a-4697-8a8b-9c0d1e2f3a4b",
    "api_passphrase": "Canary-Passphrase-7781",
}


def _forms(secret: str) -> set[str]:
    raw = secret.encode()
    return {
        secret,
        secret.lower(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        raw.hex(),
        raw.hex().upper(),
    }


def _dump_every_table() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - table names from introspection
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value)
                        chunks.append(value.hex())
                        chunks.append(value.decode("latin-1"))
                    else:
                        chunks.append(str(value))
    return "\n".join(chunks)


def test_no_secret_is_stored_in_any_form(api_client: Any, settings: Any) -> None:
    settings.KUCOIN_SPOT_URL = settings.KUCOIN_FUTURES_URL = "http://127.0.0.1:9"
    response = api_client.post(
        "/api/v1/auth/signup",
        {
            "name": "Canary",
            "username": "canary",
            "password": "canary-password-991",
            "kucoin": SECRETS,
        },
        format="json",
    )
    assert response.status_code == 201

    dump = _dump_every_table()

    assert "canary" in dump  # the dump does contain the user's rows
    for name, secret in SECRETS.items():
        for form in _forms(secret):
            assert form not in dump, f"{name} found in the database as {form!r}"


def test_rotate_credentials_key_command_keeps_secrets_readable(
    api_client: Any, settings: Any
) -> None:
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from cryptotrack.accounts.models import ExchangeAccount
    from cryptotrack.accounts.services import exchange_account_credentials

    settings.KUCOIN_SPOT_URL = settings.KUCOIN_FUTURES_URL = "http://127.0.0.1:9"
    api_client.post(
        "/api/v1/auth/signup",
        {"name": "R", "username": "rotator", "password": "canary-password-991", "kucoin": SECRETS},
        format="json",
    )
    before = ExchangeAccount.objects.get().api_secret_encrypted
    new_key = Fernet.generate_key().decode()
    settings.CREDENTIALS_ENCRYPTION_KEYS = [new_key, *settings.CREDENTIALS_ENCRYPTION_KEYS]

    call_command("rotate_credentials_key")

    account = ExchangeAccount.objects.get()
    assert account.api_secret_encrypted != before
    assert (
        Fernet(new_key.encode()).decrypt(account.api_secret_encrypted.encode()).decode()
        == SECRETS["api_secret"]
    )
    assert exchange_account_credentials(account=account).api_passphrase == SECRETS["api_passphrase"]
