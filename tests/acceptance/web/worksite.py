"""Helpers of the worker-site tests: a signed-up worker over httpx, task questions, the frame's URL."""

from __future__ import annotations

import html
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.acceptance.web.test_accounts import PASSWORD, WORKER_ID, _csrf, _sign_up

HTML_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"
EXTERNAL_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd"
MTURK_SCRIPT = "https://s3.amazonaws.com/mturk-public/externalHIT_v1.js"
PREVIEW_LABEL = "You must ACCEPT the HIT before you can submit the results."

# MTurk's own HTMLQuestion template shape: externalHIT_v1.js from S3, a form "mturk_form" with a hidden
# assignmentId, a submitButton, and turkSetAssignmentID() called after the form.
MTURK_TEMPLATE = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Task</title>
<script src="{MTURK_SCRIPT}"></script></head>
<body>
<form id="mturk_form" method="post" action="https://www.mturk.com/mturk/externalSubmit">
<input type="hidden" id="assignmentId" name="assignmentId" value="">
<label for="answer">What is six times seven?</label>
<input id="answer" name="answer">
<input type="submit" id="submitButton" value="Submit">
</form>
<script>turkSetAssignmentID();</script>
</body></html>"""


def html_question(content: str, frame_height: int = 450) -> str:
    return (
        f'<HTMLQuestion xmlns="{HTML_NS}"><HTMLContent><![CDATA[{content}]]></HTMLContent>'
        f"<FrameHeight>{frame_height}</FrameHeight></HTMLQuestion>"
    )


def external_question(url: str, frame_height: int = 450) -> str:
    return (
        f'<ExternalQuestion xmlns="{EXTERNAL_NS}"><ExternalURL>{html.escape(url)}</ExternalURL>'
        f"<FrameHeight>{frame_height}</FrameHeight></ExternalQuestion>"
    )


def unique_title(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def hit_of(title: str, question: str, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "Title": title,
        "Description": f"{title}: answer the question",
        "Keywords": "arithmetic, quick",
        "Reward": "0.25",
        "AssignmentDurationInSeconds": 600,
        "LifetimeInSeconds": 3600,
        "MaxAssignments": 1,
        "Question": question,
    }
    params.update(overrides)
    return params


def sign_up_in_browser(page: Any, base_url: str) -> None:
    """A new worker account, signed up through the page as a person would."""
    page.goto(f"{base_url}/signup")
    page.get_by_label("E-mail address").fill(f"w{uuid.uuid4().hex[:10]}@example.com")
    page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/\?welcome=1$"))


def find_in_browser(page: Any, base_url: str, title: str) -> None:
    """Search Find work for ``title`` and open its preview, as a worker would."""
    page.goto(f"{base_url}/work")
    page.get_by_label("Search").fill(title)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=title, exact=True).click()


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on a free loopback port in a thread (an ExternalQuestion's own site); its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def frame_src(page_html: str) -> str:
    found = re.search(r'<iframe[^>]* src="([^"]+)"', page_html)
    assert found, page_html
    return html.unescape(found.group(1))


def frame_parameters(src: str) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(urlsplit(src).query).items()}


@dataclass
class SiteWorker:
    """A worker signed up on the site, driving it with httpx as a browser would."""

    http: httpx.Client
    worker_id: str

    @classmethod
    def sign_up(cls, base_url: str) -> SiteWorker:
        client = httpx.Client(base_url=base_url, timeout=30)
        assert _sign_up(client, f"w{uuid.uuid4().hex[:10]}@example.com").status_code == 303
        found = WORKER_ID.search(client.get("/").text)
        assert found
        return cls(client, found.group(0))

    def csrf(self, path: str = "/work") -> str:
        return _csrf(self.http, path)

    def post(self, path: str, **data: str) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf(), **data})

    def accept(self, hit_id: str) -> str:
        accepted = self.post(f"/work/hits/{hit_id}/accept")
        assert accepted.status_code == 303, accepted.text
        return accepted.headers["location"].rsplit("/", 1)[-1]

    def task_parameters(self, assignment_id: str) -> dict[str, str]:
        page = self.http.get(f"/work/assignments/{assignment_id}")
        assert page.status_code == 200, page.text
        return frame_parameters(frame_src(page.text))
