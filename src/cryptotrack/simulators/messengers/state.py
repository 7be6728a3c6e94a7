"""What the messaging simulator knows: the bots, webhooks and topics that exist, and every
message it accepted (or refused), in order, for tests and `make run` users to read back.

By default every token, webhook and topic exists (``open`` mode), so `make run` works
with any channel a user types in; a test can close a service to exactly the credentials it
registers, to see the real "unauthorised" and "not found" answers.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

SERVICES = ("telegram", "discord", "slack", "ntfy", "webhook")


@dataclass
class Received:
    """One request the simulator answered: what came in and the status it got back."""

    service: str
    path: str
    headers: dict[str, str]
    body: str
    status: int
    at: float = field(default_factory=time.time)
    id: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Registry:
    """The credentials a service accepts: ``None`` = any (open), else exactly these."""

    accepted: set[str] | None = None

    def allows(self, credential: str) -> bool:
        return self.accepted is None or credential in self.accepted


class MessengersState:
    """Thread-safe: the app runs in the simulator's loop, tests read from their thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.telegram_bots = Registry()
        # Chats a bot can write to, per bot token (a token missing here: any chat).
        self.telegram_chats: dict[str, set[str]] = {}
        self.discord_webhooks = Registry()  # "<id>/<token>"
        self.slack_hooks = Registry()  # "T…/B…/X…"
        self.ntfy_tokens: dict[str, str] = {}  # protected topic -> access token
        self.received: list[Received] = []

    def reset(self) -> None:
        with self._lock:
            self.telegram_bots = Registry()
            self.telegram_chats = {}
            self.discord_webhooks = Registry()
            self.slack_hooks = Registry()
            self.ntfy_tokens = {}
            self.received = []

    def record(self, item: Received) -> Received:
        with self._lock:
            item.id = next(self._ids)
            self.received.append(item)
        return item

    def messages(
        self, service: str | None = None, *, accepted_only: bool = False
    ) -> list[Received]:
        with self._lock:
            items = list(self.received)
        return [
            m
            for m in items
            if (service is None or m.service == service)
            and (not accepted_only or 200 <= m.status < 300)
        ]

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        """Close a service to the given credentials (or open it again with ``null``)."""
        with self._lock:
            if "telegram_bots" in body:
                bots = body["telegram_bots"]
                if bots is None:
                    self.telegram_bots, self.telegram_chats = Registry(), {}
                else:
                    if not isinstance(bots, dict):
                        raise ValueError("telegram_bots: {token: [chat ids]} or null")
                    self.telegram_bots = Registry(set(bots))
                    self.telegram_chats = {t: {str(c) for c in chats} for t, chats in bots.items()}
            for name in ("discord_webhooks", "slack_hooks"):
                if name in body:
                    value = body[name]
                    if value is not None and not isinstance(value, list):
                        raise ValueError(f"{name}: a list of paths or null")
                    setattr(self, name, Registry(None if value is None else set(value)))
            if "ntfy_tokens" in body:
                tokens = body["ntfy_tokens"] or {}
                if not isinstance(tokens, dict):
                    raise ValueError("ntfy_tokens: {topic: token}")
                self.ntfy_tokens = dict(tokens)
        return self.config()

    def config(self) -> dict[str, Any]:
        def listed(registry: Registry) -> list[str] | None:
            return None if registry.accepted is None else sorted(registry.accepted)

        return {
            "telegram_bots": None
            if self.telegram_bots.accepted is None
            else {t: sorted(self.telegram_chats.get(t, ())) for t in self.telegram_bots.accepted},
            "discord_webhooks": listed(self.discord_webhooks),
            "slack_hooks": listed(self.slack_hooks),
            "ntfy_topics_protected": sorted(self.ntfy_tokens),
        }
