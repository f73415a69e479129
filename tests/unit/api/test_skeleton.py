"""The endpoint's threads: store calls share a few, calls that wait on a destination have their own."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from openturk.api import auth
from openturk.api.skeleton import STORE_CALL_THREADS, MTurkEndpoint

HEADERS = {
    "authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261130/us-east-1/mturk-requester/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
}


class _Everyone:
    """Lets every caller in: these tests are about threads, not signatures."""

    def verify(self, signed: auth.SignedRequest, method: str, path: str, headers: Any, body: bytes) -> str:
        return "customer"

    def knows(self, signed: auth.SignedRequest) -> bool:
        return True

    def enroll(self, signed: auth.SignedRequest) -> str:
        return "customer"


class _Gate:
    """A handler that counts how many of its calls run at once and holds each until released."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = self.most_at_once = self.calls = 0
        self.release = threading.Event()

    def __call__(self, ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.running += 1
            self.calls += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            assert self.release.wait(10)
        finally:
            with self._lock:
                self.running -= 1
        return {}


def _call(endpoint: MTurkEndpoint, operation: str, params: dict[str, Any]) -> Any:
    headers = {**HEADERS, "x-amz-target": f"MTurkRequesterServiceV20170117.{operation}"}
    return endpoint.respond("POST", "/", headers, json.dumps(params).encode())


def test_store_calls_beyond_the_pool_queue_and_a_test_event_send_does_not_wait_behind_them() -> None:
    endpoint = MTurkEndpoint(lambda customer_id, request_id: None, _Everyone())  # type: ignore[arg-type,return-value]
    store, sender = _Gate(), _Gate()
    sender.release.set()
    # A copy: the endpoint's table is the registry itself, which other tests read.
    endpoint._handlers = {**endpoint._handlers, "GetHIT": store, "SendTestEventNotification": sender}
    callers = 3 * STORE_CALL_THREADS

    async def scenario() -> list[tuple[int, bytes, str]]:
        calls = [asyncio.ensure_future(_call(endpoint, "GetHIT", {"HITId": "H"})) for _ in range(callers)]
        for _ in range(200):  # bounded: until the pool is full
            if store.running == STORE_CALL_THREADS:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # time for any thread beyond the pool to start a call (none may)
        assert store.running == STORE_CALL_THREADS
        # Every store thread is busy; a call that waits on a destination has threads of its own.
        test_event = {
            "Notification": {"Destination": "d", "Transport": "SQS", "Version": "2014-08-15", "EventTypes": ["Ping"]},
            "TestEventType": "Ping",
        }
        status, _, _ = await asyncio.wait_for(_call(endpoint, "SendTestEventNotification", test_event), 5)
        assert status == 200 and sender.calls == 1
        store.release.set()
        return list(await asyncio.wait_for(asyncio.gather(*calls), 20))

    answers = asyncio.run(scenario())
    assert [status for status, _, _ in answers] == [200] * callers
    assert store.calls == callers and store.most_at_once == STORE_CALL_THREADS
