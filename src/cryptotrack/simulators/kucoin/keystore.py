"""Keys registered with a running KuCoin simulator, kept in a JSON file across restarts.

``make run`` starts the simulator with ``--keys-file var/kucoin-simulator-keys.json``: a
key that ``make sim-key`` (``POST /_sim/keys``) registered is registered again at the
next start, with its demo holdings, so a user tracking it is not paused by a restart.
Positions opened or moved through the control API afterwards are not kept.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class KeyStore:
    """The ``POST /_sim/keys`` bodies that registered the keys, by API key (file mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return list(json.loads(self.path.read_text(encoding="utf-8")).values())

    def save(self, body: dict[str, Any]) -> None:
        self._write({**self._read(), str(body["api_key"]): body})

    def remove(self, api_key: str) -> None:
        self._write({k: v for k, v in self._read().items() if k != api_key})

    def clear(self) -> None:
        self._write({})

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        stored: dict[str, dict[str, Any]] = json.loads(self.path.read_text(encoding="utf-8"))
        return stored

    def _write(self, keys: dict[str, dict[str, Any]]) -> None:
        # A whole new file renamed over the old one: a crash leaves one or the other.
        partial = self.path.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(keys, handle, indent=1)
        os.replace(partial, self.path)
