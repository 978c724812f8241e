"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests: `from support.smtpserver import smtp` brings the fixture.

    def test_mail(smtp):
        inbox, port = smtp()  # options go to aiosmtpd's Controller (tls_context=..., authenticator=...)
        ...
        [message] = inbox.messages
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from .briefdata import free_port


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.recipients += envelope.rcpt_tos
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[Callable[..., tuple[Inbox, int]]]:
    """Start aiosmtpd servers with the given options; returns (inbox, port)."""
    controllers = []

    def start(**options) -> tuple[Inbox, int]:
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **options)
        controller.start()
        controllers.append(controller)
        return inbox, controller.port

    yield start
    for controller in controllers:
        controller.stop()
