"""Costs of moto's server that the embedded local AWS removes, without changing what it answers.

Measured with one boto3 client sending to one queue (``bench/scale.py``'s bare reference saturated
moto's core at about 85 SendMessage/s): moto spent most of each request on

* finding the backend: ``DomainDispatcherApplication.get_backend_for_host`` lists moto's module
  directories on disk (``os.path.isdir`` on each) and tries every service's URL pattern, on every
  request. The answer depends only on the host string, so it is kept per host;
* reading the clock: SQS's messages ask ``unix_time()`` for visibility and delay, once per message
  per count, through two naive datetimes and a subtraction. ``time.time()`` is the same wall clock;
* counting a queue's messages: every ``queue.attributes`` (SendMessage reads it for one setting) counts
  the visible, delayed and in-flight messages, each in its own pass calling two properties and the
  clock per message: 25 ms per send with 20,000 messages waiting. A send's ``queue.attributes``
  now leaves the counts out, and the counts and the list of receivable messages elsewhere are taken
  with one clock reading and plain comparisons;
* deleting a message: moto walked the queue twice, building each message's list of handles, old and
  current, to compare with the one given (2 ms per DeleteMessage with 10,000 messages waiting). The
  handles are now compared where they are;
* ``is_message_valid_based_on_retention_period`` builds every attribute of the queue, counts of
  visible, delayed and in-flight messages included (a pass over the queue), to read one number, for
  every message a ReceiveMessage returns;
* names: ``camelcase_to_underscores`` (a character-by-character loop) turned each of a queue's dozen
  attribute names, and each request's action, into a Python name on every use; the answers are
  kept (a pure function of the name; at most 1,024 kept, since actions come from the caller);
* receipt handles: each of a handle's 185 letters was drawn by its own ``random.choice`` call, three
  handles per message received; one ``choices`` call now draws them (moto's own random source);
* for every request, moto's response class lists its own methods with ``inspect.getmembers`` (kept per
  class here) and draws each of a request id's 52 characters with its own ``random.choice`` call;
* the way to SQS: every call passes moto's backend lookup and a Flask application (request context,
  URL map, response conversion) before reaching ``SQSResponse``. ``route_sqs_json`` hands SQS's
  JSON protocol calls to ``SQSResponse`` directly; anything else takes moto's way.

Applied once, in the local AWS's own process, before moto serves (``local_aws_server.build``).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from typing import Any

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    _cache_backend_lookup()
    _fast_sqs_clock()
    _plain_message_counts()
    _sends_uncounted()
    _one_walk_deletes()
    _kept_python_names()
    _one_call_receipt_handles()
    _direct_retention_check()
    _cache_method_names()
    _one_call_request_ids()


def _cache_backend_lookup() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    find = DomainDispatcherApplication.get_backend_for_host
    found: dict[str | None, Any] = {}

    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        if host not in found:
            found[host] = find(self, host)  # a static answer per host: patterns and modules never change
        return found[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


def _fast_sqs_clock() -> None:
    import moto.sqs.models
    from moto.core import utils

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else utils.unix_time(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else utils.unix_time_millis(dt)

    # moto's SQS calls the module's names; replacing them is the one seam, as for ``Condition``.
    vars(moto.sqs.models)["unix_time"] = unix_time
    vars(moto.sqs.models)["unix_time_millis"] = unix_time_millis


def _plain_message_counts() -> None:
    from moto.sqs.models import Queue

    # As moto's ``Message.visible`` (now > visible_at) and ``Message.delayed`` (now < delayed_until), in ms.
    def receivable(self: Any) -> list[Any]:
        now = time.time() * 1000.0
        return [m for m in self._messages if m.visible_at < now and m.delayed_until <= now]

    def visible_count(self: Any) -> int:
        now = time.time() * 1000.0
        return sum(1 for m in self._messages if m.visible_at < now and m.delayed_until <= now)

    def delayed_count(self: Any) -> int:
        now = time.time() * 1000.0
        return sum(1 for m in self._messages if m.delayed_until > now)

    def not_visible_count(self: Any) -> int:
        now = time.time() * 1000.0
        return sum(1 for m in self._messages if m.visible_at >= now)

    Queue.messages = property(receivable)  # type: ignore[method-assign,assignment]
    Queue.approximate_number_of_messages = property(visible_count)  # type: ignore[method-assign,assignment]
    Queue.approximate_number_of_messages_delayed = property(delayed_count)  # type: ignore[method-assign,assignment]
    Queue.approximate_number_of_messages_not_visible = property(not_visible_count)  # type: ignore[method-assign,assignment]


_COUNTS = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesNotVisible")


def _sends_uncounted() -> None:
    """moto's SendMessage reads ``queue.attributes`` for ContentBasedDeduplication alone: while a send
    runs (a batch's entries and SNS's deliveries to SQS call the same method), the counts are left out."""
    from moto.sqs.models import Queue, SQSBackend

    sending = threading.local()
    counted: Any = Queue.__dict__["attributes"].fget  # the property's function
    send = SQSBackend.send_message

    def attributes(self: Any) -> dict[str, Any]:
        if not getattr(sending, "active", False):
            return dict(counted(self))
        # moto's property reads each of BASE_ATTRIBUTES by name: this queue's own list leaves the counts out.
        self.__dict__["BASE_ATTRIBUTES"] = [a for a in type(self).BASE_ATTRIBUTES if a not in _COUNTS]
        try:
            return dict(counted(self))
        finally:
            del self.__dict__["BASE_ATTRIBUTES"]

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        was, sending.active = getattr(sending, "active", False), True
        try:
            return send(self, *args, **kwargs)
        finally:
            sending.active = was

    Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]
    SQSBackend.send_message = send_message  # type: ignore[method-assign]


def _one_walk_deletes() -> None:
    from moto.sqs.exceptions import ReceiptHandleIsInvalid
    from moto.sqs.models import Queue

    def delete_message(self: Any, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return  # deleted already: a second delete succeeds, as moto's does
        handled = [
            m for m in self._messages if m.receipt_handle == receipt_handle or receipt_handle in m._old_receipt_handles
        ]
        if not handled:
            raise ReceiptHandleIsInvalid()
        for message in handled:
            self.pending_messages.discard(message)
            self.deleted_messages.update(message.all_receipt_handles)
            self._messages.remove(message)  # by identity: moto's messages define no equality

    Queue.delete_message = delete_message  # type: ignore[method-assign]


def _kept_python_names() -> None:
    import moto.core.responses
    import moto.sqs.models
    from moto.core.utils import camelcase_to_underscores

    kept = functools.lru_cache(maxsize=1024)(camelcase_to_underscores)
    # Both modules call their own imported name; replacing those names is the one seam.
    vars(moto.sqs.models)["camelcase_to_underscores"] = kept
    vars(moto.core.responses)["camelcase_to_underscores"] = kept


def _one_call_receipt_handles() -> None:
    import string

    import moto.sqs.models
    from moto.moto_api._internal import mock_random

    def generate_receipt_handle() -> str:
        return "".join(mock_random.choices(string.ascii_lowercase, k=185))  # as moto's: 185 lowercase letters

    vars(moto.sqs.models)["generate_receipt_handle"] = generate_receipt_handle


def _direct_retention_check() -> None:
    from moto.sqs.models import Message, SQSBackend

    def is_message_valid_based_on_retention_period(self: SQSBackend, queue_name: str, message: Message) -> bool:
        queue: Any = self.get_queue(queue_name)  # moto sets its attributes with setattr: untyped
        retention_s = int(queue.message_retention_period)
        return bool(retention_s + (message.sent_timestamp or 0) / 1000 > time.time())

    SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )


def _cache_method_names() -> None:
    import moto.core.responses
    from moto.core.utils import method_names_from_class

    found: dict[type, list[str]] = {}

    def cached(clazz: Any) -> list[str]:
        if clazz not in found:
            found[clazz] = method_names_from_class(clazz)  # a class's functions do not change once defined
        return found[clazz]

    # moto's responses call the module's name for every request, and it walks the class with inspect.
    vars(moto.core.responses)["method_names_from_class"] = cached


def _one_call_request_ids() -> None:
    import string

    import moto.core.responses
    from moto.moto_api._internal import mock_random

    characters = string.ascii_letters + string.digits  # as moto's get_random_string(52)

    def gen_amzn_requestid_long(headerdict: dict[str, Any] | None = None) -> str:
        request_id = "".join(mock_random.choices(characters, k=52))  # one call, not 52 of random.choice
        if headerdict is not None and isinstance(headerdict, dict):
            headerdict.update({"x-amzn-requestid": request_id})
        return request_id

    vars(moto.core.responses)["gen_amzn_requestid_long"] = gen_amzn_requestid_long


def route_sqs_json(app: Any) -> Any:
    """WSGI wrapper: an SQS call in AWS JSON 1.0 (``X-Amz-Target: AmazonSQS.*``, what every current SDK
    sends) goes straight to moto's ``SQSResponse``, as moto's own route would take it, without the
    Flask application and backend lookup around it (about half of moto's time per call)."""
    from botocore.exceptions import ClientError
    from moto.sqs.responses import SQSResponse
    from werkzeug.exceptions import HTTPException
    from werkzeug.wrappers import Request, Response

    request_class: type[Request] = Request  # moto before 5.2.5: a plain werkzeug request, as its Flask app made
    with contextlib.suppress(ImportError):  # moto 5.2.5 on: its server's own request class (with raw_url)
        from moto.moto_server.werkzeug_app import BackendRequest  # type: ignore[attr-defined,unused-ignore]

        request_class = BackendRequest

    def routed(environ: dict[str, Any], start_response: Any) -> Any:
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or not environ.get("HTTP_X_AMZ_TARGET", "").startswith("AmazonSQS.")
            or environ.get("HTTP_CONTENT_ENCODING")  # moto's Flask app decompresses those first
        ):
            return app(environ, start_response)
        request = request_class(environ)
        url = getattr(request, "raw_url", request.url)
        try:
            status, headers, body = SQSResponse().dispatch(request, url, dict(request.headers))
        except HTTPException as error:  # moto's AWS errors are werkzeug exceptions that render themselves
            return error(environ, start_response)
        except ClientError as error:  # as moto's route answers one
            status, headers, body = 400, {}, error.response["Error"]["Message"]
        return Response(response=body, status=status, headers=headers)(environ, start_response)

    return routed
