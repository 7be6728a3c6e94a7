"""Python control of the messaging simulator: in-process (thread) or over HTTP."""

from __future__ import annotations

from typing import Any

from cryptotrack.simulators.control import ControlClient
from cryptotrack.simulators.counting import RequestCounter
from cryptotrack.simulators.faults import Fault, FaultInjector, FaultKind
from cryptotrack.simulators.messengers.app import build_app
from cryptotrack.simulators.messengers.state import MessengersState, Received
from cryptotrack.simulators.serving import BackgroundServer, ServedSimulator


class MessengersSimulator(ServedSimulator):
    """Telegram, Discord, Slack, ntfy and a webhook receiver on one free loopback port.

    Base URLs for the clients: Telegram ``base_url`` (``{base}/bot<token>/sendMessage``),
    Discord ``{base}/api/webhooks/<id>/<token>``, Slack ``{base}/services/T/B/X``, ntfy
    ``{base}`` (topics at ``{base}/<topic>``), webhooks ``{base}/webhooks/<name>``.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = MessengersState()
        self.faults = FaultInjector()
        self.counter = RequestCounter()
        self.app = build_app(self.state, injector=self.faults, counter=self.counter)
        self._server = BackgroundServer(self.app, host=host, port=port, name="messengers")

    def messages(self, service: str | None = None) -> list[Received]:
        """Every request answered so far (accepted or refused), oldest first."""
        return self.state.messages(service)

    def accepted(self, service: str | None = None) -> list[Received]:
        """The requests answered 2xx, oldest first."""
        return self.state.messages(service, accepted_only=True)

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Close services to given credentials; see ``MessengersState.configure``."""
        return self.state.configure(settings)

    def inject_fault(self, kind: FaultKind, **options: Any) -> Fault:
        """Add a fault (e.g. ``error`` with ``status=500, times=2, path="/webhooks/a"``)."""
        return self.faults.inject(kind, **options)

    def reset(self) -> None:
        self.state.reset()
        self.faults.clear()
        self.counter.reset()


class MessengersControl(ControlClient):
    """Scripts a messaging simulator running in another process through ``/_sim/``."""

    def messages(self, service: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get(
            "/messages", params={} if service is None else {"service": service}
        )
        return result

    def configure(self, **settings: Any) -> Any:
        return self.post("/config", settings)

    def reset(self) -> None:
        self.post("/reset")
