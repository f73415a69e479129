"""A real SMTP server (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import email
import threading
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from openturk.testing import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def received(self) -> list[Message]:
        with self._lock:
            return list(self.messages)


class SMTPServer:
    def __init__(self, port: int | None = None) -> None:
        """``port``: where a server that is down now will come up (a free one if None)."""
        self.inbox = Inbox()
        self.port = port or free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> SMTPServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
