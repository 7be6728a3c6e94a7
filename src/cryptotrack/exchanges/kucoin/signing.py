"""KuCoin request signing (API key versions 2 and 3; version 1 sends the passphrase as is).

Exactly as https://www.kucoin.com/docs-new/authentication documents it and the official
SDK implements it (kucoin-universal-sdk ``internal/infra/default_signer.py``):

* ``KC-API-SIGN`` = base64(HMAC-SHA256(secret, timestamp + METHOD + path[?query] + body)),
  where ``query`` is the *unencoded* query string and ``body`` is ``""`` for a GET;
* ``KC-API-PASSPHRASE`` = base64(HMAC-SHA256(secret, passphrase)) for key versions 2 and 3;
* ``KC-API-TIMESTAMP`` = milliseconds since the epoch (by KuCoin's clock, within 5 s).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class KucoinCredentials:
    """One user's KuCoin API key, passed to every private call.

    ``repr()`` shows only the last four characters of the key, never the secret or the
    passphrase, so credentials are safe in tracebacks and logs.
    """

    api_key: str
    api_secret: str = field(repr=False)
    api_passphrase: str = field(repr=False)
    key_version: str = "2"

    def __repr__(self) -> str:
        return f"KucoinCredentials(api_key={self.key_hint!r}, key_version={self.key_version!r})"

    @property
    def key_hint(self) -> str:
        """The key's last four characters, for logs and API answers."""
        return f"…{self.api_key[-4:]}"


def sign(secret: str, message: str) -> str:
    """Return base64(HMAC-SHA256(key=secret, msg=message))."""
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def prehash(timestamp_ms: int | str, method: str, path_and_query: str, body: str = "") -> str:
    """The string KuCoin signs: timestamp + METHOD + path[?query] + body."""
    return f"{timestamp_ms}{method.upper()}{path_and_query}{body}"


def passphrase_header(credentials: KucoinCredentials) -> str:
    """KC-API-PASSPHRASE: HMAC-signed for key versions 2/3, the plain passphrase for v1."""
    if credentials.key_version == "1":
        return credentials.api_passphrase
    return sign(credentials.api_secret, credentials.api_passphrase)


def signed_headers(
    credentials: KucoinCredentials,
    *,
    method: str,
    path_and_query: str,
    body: str = "",
    timestamp_ms: int,
) -> dict[str, str]:
    """All KC-API-* headers of one private request, signed for ``timestamp_ms``."""
    return {
        "KC-API-KEY": credentials.api_key,
        "KC-API-SIGN": sign(
            credentials.api_secret, prehash(timestamp_ms, method, path_and_query, body)
        ),
        "KC-API-TIMESTAMP": str(timestamp_ms),
        "KC-API-PASSPHRASE": passphrase_header(credentials),
        "KC-API-KEY-VERSION": credentials.key_version,
    }
