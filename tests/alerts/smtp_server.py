"""A real SMTP server for the alert tests (aiosmtpd in a thread, on a loopback port).

It records every message it accepts, and can be told to refuse (``4xx``/``5xx`` replies
to RCPT) or to stall in RCPT (a sender killed there never completes the message).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Self

from aiosmtpd.controller import Controller

from tests.support.processes import free_port


@dataclass(frozen=True)
class Received:
    """One accepted message: the SMTP envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.server.rcpt_seen += 1
        if self.server.stalling:
            await asyncio.get_running_loop().run_in_executor(None, self.server.released.wait, 60)
        with self.server.lock:
            if self.server.refusals:
                return self.server.refusals.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.server.lock:
            self.server.messages.append(
                Received(envelope.mail_from, tuple(envelope.rcpt_tos), parsed)
            )
        return "250 Message accepted for delivery"


class SmtpServer:
    """``start()``/``stop()`` an SMTP server on ``port`` (a free one by default); the same
    port can be started again after a stop, to play a mail server that went away."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.messages: list[Received] = []
        self.refusals: list[str] = []
        self.stalling = False
        self.released = threading.Event()
        self.rcpt_seen = 0
        self._controller: Controller | None = None

    def start(self) -> Self:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        self.release()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def refuse_next(self, *replies: str) -> None:
        """Answer the next RCPT commands with these replies, e.g. ``"451 4.3.0 Try later"``."""
        with self.lock:
            self.refusals.extend(replies)

    def stall(self) -> None:
        """Hold every RCPT from now on, until ``release()`` (or 60 s)."""
        self.released.clear()
        self.stalling = True

    def release(self) -> None:
        self.stalling = False
        self.released.set()

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
