"""Helpers that settings.py uses to read its environment; nothing here imports Django."""

from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger("cryptotrack.config")


def env_reader(dotenv: Path) -> environ.Env:
    """An ``environ.Env`` over the process environment plus ``.env``, empty values unset.

    Variables already in the environment win over ``.env``. An empty value counts as
    unset everywhere (``DATABASE_URL=`` means the SQLite default), as the docs promise.
    """
    values = dict(os.environ)
    if dotenv.is_file():
        for key, value in _parse_env_file(dotenv).items():
            values.setdefault(key, value)
    env = environ.Env()
    env.ENVIRON = {key: value for key, value in values.items() if value != ""}
    return env


def _parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def load_or_create_local_secrets(path: Path) -> dict[str, str]:
    """Read ``SECRET_KEY`` and one Fernet key from ``path``, creating it (0600) the first time.

    For the embedded default only: tokens and stored ciphertexts survive restarts without
    anyone having to invent keys. Production sets both variables and never comes here.
    """
    if path.is_file():
        stored = _parse_env_file(path)
        if stored.get("SECRET_KEY") and stored.get("CREDENTIALS_ENCRYPTION_KEYS"):
            return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    generated = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CREDENTIALS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# Generated once by cryptotrack for the embedded default. Keep it private.\n")
        handle.writelines(f"{key}={value}\n" for key, value in generated.items())
    logger.warning(
        "SECRET_KEY / CREDENTIALS_ENCRYPTION_KEYS not set: generated them into %s. "
        "Set both explicitly in production.",
        path,
    )
    return generated


def fernet_keys(raw_keys: list[str]) -> list[str]:
    """Validate Fernet keys (url-safe base64 of 32 bytes), keeping their order (newest first)."""
    keys = [key.strip() for key in raw_keys if key.strip()]
    if not keys:
        raise ImproperlyConfigured("CREDENTIALS_ENCRYPTION_KEYS holds no key.")
    for position, key in enumerate(keys, start=1):
        try:
            decoded = base64.urlsafe_b64decode(key.encode())
        except ValueError:
            decoded = b""
        if len(decoded) != 32:
            raise ImproperlyConfigured(
                f"CREDENTIALS_ENCRYPTION_KEYS: key #{position} is not a Fernet key "
                "(32 url-safe base64-encoded bytes; make one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)."
            )
    return keys
