"""A real SMTP server (aiosmtpd) in the test process, and the fixture that points the app at it."""

import asyncio
import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from bridgedesk.settings import get_settings
from tests.server_process import free_port


class Mailbox:
    """The aiosmtpd handler: keeps every message it is handed, with its envelope recipients.

    With a `gate`, each message's DATA waits (up to `gate_timeout`) until the gate is set, so a
    test can look at the world while a delivery is in progress; `at_gate` says one is waiting.
    """

    def __init__(self, *, gate: threading.Event | None = None, gate_timeout: float = 20) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.gate = gate
        self.gate_timeout = gate_timeout
        self.at_gate = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.gate is not None:
            self.at_gate.set()
            await asyncio.to_thread(self.gate.wait, self.gate_timeout)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def with_subject(self, fragment: str) -> list[tuple[list[str], EmailMessage]]:
        return [(to, m) for to, m in self.received if fragment in str(m["Subject"])]


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def smtp_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """An SMTP server on a free loopback port that the settings point at, not yet started."""
    server = SmtpServer(free_port())
    monkeypatch.setenv("BRIDGEDESK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("BRIDGEDESK_SMTP_PORT", str(server.port))
    monkeypatch.setenv("BRIDGEDESK_MAIL_FROM", "desk@bridgedesk.example")
    get_settings.cache_clear()
    try:
        yield server
    finally:
        server.stop()
        get_settings.cache_clear()
