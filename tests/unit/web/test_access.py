"""The trust boundary as plain ASGI: owners, admission and body caps, without a server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from openturk.server import build_apps
from openturk.settings import Settings
from openturk.store.database import Database
from openturk.web import access


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    yield database
    database.dispose()


def test_every_route_of_the_app_has_an_owner(db: Database) -> None:
    """A route added without an owner fails here (and the boundary would refuse every call to it)."""
    app, task_app = build_apps(Settings(db_url=db.url, virtual_clock=True, dispatch=False), db)
    paths = {getattr(route, "path", None) for route in [*app.routes, *task_app.routes]}
    assert paths == {key.split(" ")[-1] for key in access.OWNERS}


class Downstream:
    """The application behind the boundary: records what reached it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        self.bodies.append(message.get("body", b""))
        await PlainTextResponse("ok")(scope, receive, send)


async def never_called(request: Request) -> Response:
    raise AssertionError("the boundary calls the application it wraps, not the routes it reads owners from")


ROUTES = [Route(path, never_called, methods=["POST"]) for path in ("/", "/metrics", "/health", "/unowned")]


def call(
    boundary: access.Boundary,
    path: str,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    chunks: tuple[bytes, ...] = (b"",),
    client: tuple[str, int] = ("127.0.0.1", 50000),
    query: bytes = b"",
) -> tuple[int, dict[str, Any]]:
    """Send one request through ``boundary``: (status, JSON body or {})."""
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": query,
        # Header bytes as a server hands them over, read back as latin-1.
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in (headers or {}).items()],
        "client": client,
    }
    asyncio.run(boundary(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    try:
        document = json.loads(body)
    except ValueError:
        document = {}
    return sent[0]["status"], document if isinstance(document, dict) else {}


def boundary(db: Database, downstream: Downstream, **settings: Any) -> access.Boundary:
    return access.Boundary(downstream, ROUTES, Settings(db_url=db.url, **settings), db)


def test_an_address_with_the_nul_character_is_refused_before_the_application(db: Database) -> None:
    downstream = Downstream()
    guard = boundary(db, downstream)
    assert call(guard, "/", query=b"q=%00")[0] == 400
    assert call(guard, "/", query=b"q=a\x00b")[0] == 400
    assert downstream.bodies == []
    assert call(guard, "/", query=b"q=%2500")[0] == 200  # "%00" spelt out, not the character


def test_unknown_paths_wrong_methods_and_unowned_routes_are_refused(db: Database) -> None:
    downstream = Downstream()
    guard = boundary(db, downstream)
    assert call(guard, "/nowhere") == (404, {"Error": "NotFound", "Message": "There is no /nowhere."})
    assert call(guard, "/health", method="GET")[0] == 405
    status, document = call(guard, "/unowned")
    assert (status, document["Error"]) == (403, "Forbidden")
    assert downstream.bodies == []


def test_admin_routes_in_open_mode_answer_loopback_only(db: Database) -> None:
    downstream = Downstream()
    guard = boundary(db, downstream)
    assert call(guard, "/metrics", client=("10.1.2.3", 4000))[0] == 403
    assert call(guard, "/metrics", client=("::ffff:10.1.2.3", 4000))[0] == 403
    assert downstream.bodies == []
    assert call(guard, "/metrics", client=("::1", 4000))[0] == 200
    assert call(guard, "/metrics", client=("::ffff:127.0.0.1", 4000))[0] == 200


def test_admin_token_is_required_from_anywhere_once_set(db: Database) -> None:
    downstream = Downstream()
    guard = boundary(db, downstream, admin_token="t0ken")
    assert call(guard, "/metrics")[1]["Error"] == "MissingCredentials"
    assert call(guard, "/metrics", headers={"Authorization": "Bearer t0ke"})[1]["Error"] == "InvalidCredentials"
    assert call(guard, "/metrics", headers={"Authorization": "Bearer t0kén"})[1]["Error"] == "InvalidCredentials"
    assert downstream.bodies == []
    remote = ("10.1.2.3", 4000)
    assert call(guard, "/metrics", headers={"Authorization": "Bearer t0ken"}, client=remote)[0] == 200


def test_api_without_signature_is_refused_before_the_body_under_sigv4(db: Database) -> None:
    downstream = Downstream()
    status, document = call(boundary(db, downstream, auth="sigv4"), "/", chunks=(b"{}",))
    assert (status, document["__type"]) == (403, "MissingAuthenticationTokenException")
    assert downstream.bodies == []


def test_bodies_over_the_cap_are_refused_and_smaller_ones_pass_whole(db: Database) -> None:
    downstream = Downstream()
    guard = boundary(db, downstream)
    cap = access.API_MAX_BODY
    declared = call(guard, "/", headers={"Content-Length": str(cap + 1)}, chunks=(b"x" * 10,))
    assert declared[0] == 413 and declared[1]["__type"] == "RequestEntityTooLarge"
    streamed = call(guard, "/", chunks=(b"x" * cap, b"x"))
    assert streamed[0] == 413
    assert call(guard, "/health", chunks=(b"x" * (access.SMALL_MAX_BODY + 1),))[0] == 413
    assert call(guard, "/", headers={"Content-Length": "ten"})[0] == 400
    assert call(guard, "/", headers={"Content-Length": "\u00b2"})[0] == 400  # a digit to isdigit(), not to int()
    assert call(guard, "/", headers={"Content-Length": "9" * 5000})[0] == 400  # more digits than int() reads
    assert downstream.bodies == []
    assert call(guard, "/", chunks=(b"a" * (cap // 2), b"b" * (cap // 2)))[0] == 200
    assert downstream.bodies == [b"a" * (cap // 2) + b"b" * (cap // 2)]


def test_every_route_but_public_pages_refuses_a_stranger_under_sigv4(db: Database) -> None:
    """The real app's routes, each called with no credentials from another machine. Only the public
    health check and the site's public pages (GET) answer; a signed-in page redirects to its log-in
    page; every other call is refused by the boundary before its handler runs (a form post to a public
    page by its CSRF check), and the public file download refuses because its signed URL is its credential."""
    db.migrate()  # the log-in pages start an anonymous session (for their CSRF token)
    main_app, task_app = build_apps(Settings(db_url=db.url, auth="sigv4", virtual_clock=True, dispatch=False), db)
    checked = 0
    for app, route in [*((main_app, r) for r in main_app.routes), *((task_app, r) for r in task_app.routes)]:
        path = str(route.path)
        concrete = path.replace("{", "X").replace("}", "")
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method == "HEAD":
                continue
            owner = access.OWNERS.get(f"{method} {path}") or access.OWNERS[path]
            status, _ = call(app, concrete, method=method, client=("10.1.2.3", 4000))
            if owner == "task":
                # The task token in the path is the credential: only openturk's script and the
                # "submitted" page (which names nothing) answer without one.
                expected = 200 if path in ("/externalHIT_v1.js", "/submit/{token}/done") else 403
                assert status == expected, (method, path, status)
            elif path == "/health" or (owner == "page" and method == "GET"):
                assert status in (200, 404), (method, path, status)  # 404: /static names no file
            elif owner in ("worker_page", "requester_page", "admin_page") and method == "GET":
                assert status == 303, (method, path, status)
            else:
                assert status in (401, 403), (method, path, status)
            checked += 1
    assert checked >= len(access.OWNERS)


def test_head_has_the_owner_of_get(db: Database) -> None:
    """HEAD / was the Requester API's (the owner of "/" for any method but GET), so under sigv4 the
    site's front door answered HEAD with a missing-signature error."""
    app, _ = build_apps(Settings(db_url=db.url, virtual_clock=True, dispatch=False), db)
    assert isinstance(app, access.Boundary)
    for path, owner in (("/", "page"), ("/health", "public"), ("/work", "worker_page")):
        scope = {"type": "http", "method": "HEAD", "path": path, "root_path": "", "query_string": b"", "headers": []}
        assert app.owner(scope) == app.owner({**scope, "method": "GET"}) == owner, path
    post = {"type": "http", "method": "POST", "path": "/", "root_path": "", "query_string": b"", "headers": []}
    assert app.owner(post) == "requester"


def test_a_body_that_stops_arriving_is_refused_after_the_idle_limit(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access, "BODY_IDLE_S", 0.2)
    downstream = Downstream()
    guard = boundary(db, downstream)
    sent: list[Message] = []
    parts = [{"type": "http.request", "body": b"x" * 10, "more_body": True}]

    async def receive() -> Message:
        if parts:
            return parts.pop(0)
        await asyncio.sleep(3600)  # the client sent half its body and went quiet
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-length", b"100")],
        "client": ("127.0.0.1", 50000),
    }

    async def scenario() -> None:
        await asyncio.wait_for(guard(scope, receive, send), timeout=5)

    asyncio.run(scenario())
    assert sent[0]["status"] == 408
    assert downstream.bodies == []
