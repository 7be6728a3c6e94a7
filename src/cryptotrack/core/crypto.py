"""Authenticated encryption of exchange credentials at rest (Fernet, MultiFernet rotation).

Keys come from ``settings.CREDENTIALS_ENCRYPTION_KEYS``, newest first: new ciphertexts use
the first key, any listed key decrypts, and ``rotate`` re-encrypts under the newest one.
Plaintexts exist only in the caller's stack frame: never log, cache or enqueue them.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """The ciphertext was made with a key we no longer have, or was tampered with."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIALS_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    """Encrypt under the newest key; returns the Fernet token as text."""
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt with any configured key; raises ``DecryptionError`` if none fits."""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "Stored credentials cannot be decrypted with the configured keys."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt ``token`` under the newest key (decryptable with any configured key)."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "Stored credentials cannot be decrypted with the configured keys."
        ) from exc
