"""Reading the environment for settings.py (which only reads), and the one place that
writes the embedded default's generated keys; nothing here imports Django's settings."""

from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from dotenv import dotenv_values

logger = logging.getLogger("cryptotrack.config")


BASE_DIR = Path(__file__).resolve().parent.parent.parent
SECRETS_FILE = "secrets.env"
_GENERATED = ("SECRET_KEY", "CREDENTIALS_ENCRYPTION_KEYS")


def env_reader(dotenv: Path = BASE_DIR / ".env") -> environ.Env:
    """An ``environ.Env`` over the process environment plus ``.env``, empty values unset.

    Variables already in the environment win over ``.env``. An empty value counts as
    unset everywhere (``DATABASE_URL=`` means the SQLite default), as the docs promise.
    Reads only: nothing is written and ``os.environ`` is left as it is.
    """
    values = {**dotenv_values(dotenv), **os.environ} if dotenv.is_file() else dict(os.environ)
    env = environ.Env()
    env.ENVIRON = {key: value for key, value in values.items() if value}
    return env


def var_dir(env: environ.Env) -> Path:
    """Where runtime files live (``VAR_DIR``, default ``var/`` in the project)."""
    return Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


def read_local_secrets(path: Path) -> dict[str, str]:
    """The generated keys of the embedded default (see ``prepare_var_dir``), or {}."""
    if not path.is_file():
        return {}
    stored = {key: value for key, value in dotenv_values(path).items() if value}
    return stored if all(stored.get(key) for key in _GENERATED) else {}


def prepare_var_dir() -> None:
    """On the embedded default: create ``VAR_DIR`` and, unless the environment (or ``.env``)
    sets both keys, generate ``SECRET_KEY`` and a Fernet key once into
    ``VAR_DIR/secrets.env`` (0600), so tokens and stored ciphertexts survive restarts
    without anyone having to invent keys.

    Called by the entry points (``make install``, ``make run``'s launcher,
    ``python -m cryptotrack`` / ``manage.py``) before Django loads the settings, which
    only read the file. Does nothing in production.
    """
    env = env_reader()
    if env.str("ENVIRONMENT", default="development") == "production":
        return
    var_dir(env).mkdir(parents=True, exist_ok=True)
    if all(env.str(key, default="") for key in _GENERATED):
        return
    path = var_dir(env) / SECRETS_FILE
    if read_local_secrets(path):
        return
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
