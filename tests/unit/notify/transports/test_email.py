"""The email transport against a real SMTP server (aiosmtpd) that misbehaves at the end of a session."""

from __future__ import annotations

import json
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from openturk.notify.transports.base import Outgoing
from openturk.notify.transports.email import EmailTransport, SMTPTarget
from openturk.testing import free_port
from tests.support.smtp import Inbox


class _RudeAtQuit(SMTP):
    """Accepts every message, then answers QUIT with 421 and drops the connection."""

    async def smtp_QUIT(self, arg: str) -> None:
        await self.push("421 closing")
        assert self.transport is not None
        self.transport.close()


class _RudeController(Controller):
    def factory(self) -> SMTP:
        return _RudeAtQuit(self.handler, **self.SMTP_kwargs)


def _outgoing(doc_id: str) -> Outgoing:
    body = json.dumps({"EventDocVersion": "2014-08-15", "EventDocId": doc_id, "Events": []})
    return Outgoing(1, doc_id, "Email", "someone@example.org", body, "HITReviewable", "T1")


def test_messages_the_server_accepted_are_delivered_whatever_it_answers_at_quit() -> None:
    inbox = Inbox()
    port = free_port()
    controller: Any = _RudeController(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        transport = EmailTransport(SMTPTarget(host="127.0.0.1", port=port, timeout_s=5))
        assert transport.send([_outgoing("doc-1"), _outgoing("doc-2")]) == [None, None]
    finally:
        controller.stop()
    assert [m["X-MTurk-EventDocId"] for m in inbox.received()] == ["doc-1", "doc-2"]


def test_a_server_that_is_not_there_fails_every_message_of_the_batch() -> None:
    transport = EmailTransport(SMTPTarget(host="127.0.0.1", port=free_port(), timeout_s=2))
    results = transport.send([_outgoing("doc-1"), _outgoing("doc-2")])
    assert len(results) == 2 and all(result for result in results)
