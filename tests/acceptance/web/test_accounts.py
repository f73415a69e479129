"""The web site's accounts in a real Chromium against a real server: sign-up, log-in, log-out,
CSRF, the log-in rate limit, disabled workers and requester/admin log-in."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from openturk.testing import ServerProcess
from openturk.workers import accounts
from tests.support.browser import check_page
from tests.support.cli import cli_keys

PASSWORD = "correct horse battery"
WORKER_ID = re.compile(r"\bA[0-9A-Z]{13}\b")


def _email() -> str:
    return f"w{uuid.uuid4().hex[:10]}@example.com"


def _csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def _sign_up(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    token = _csrf(client, "/signup")
    return client.post(
        "/signup",
        data={"csrf_token": token, "email": email, "password": password, "password_again": password},
    )


def _log_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    token = _csrf(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password})


@pytest.fixture(scope="module")
def site(aws_args: list[str]) -> Iterator[ServerProcess]:
    with ServerProcess(virtual_clock=True, admin_token="admin-secret-token", extra_args=aws_args) as running:
        yield running


def test_a_worker_signs_up_logs_out_and_logs_in_again_in_chromium(site: ServerProcess, page: Any) -> None:
    email = _email()
    page.goto(f"{site.base_url}/signup")
    check_page(page, "signup")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/\?welcome=1$"))
    check_page(page, "home-worker")
    worker_id = WORKER_ID.search(page.inner_text("main"))
    assert worker_id, page.inner_text("main")

    cookie = next(c for c in page.context.cookies() if c["name"] == "openturk-session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    # No page script may read it: the cookie is HttpOnly.
    assert "openturk-session" not in page.evaluate("document.cookie")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login$"))
    check_page(page, "login")
    page.get_by_label("E-mail address").fill(email.upper())  # addresses compare case-insensitively
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    assert worker_id.group(0) in page.inner_text("main")


def test_sign_up_refuses_bad_input_naming_the_field_and_writes_nothing(site: ServerProcess, page: Any) -> None:
    page.goto(f"{site.base_url}/signup")
    email = _email()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password (at least 10 characters)").fill("short")
    page.get_by_label("Password again").fill("short")
    page.get_by_role("button", name="Create account").click()
    alert = page.get_by_role("alert")
    assert "at least 10 characters" in alert.inner_text()
    assert page.get_by_label("Password (at least 10 characters)").get_attribute("aria-invalid") == "true"
    check_page(page, "signup-error")
    with httpx.Client(base_url=site.base_url) as client:  # the address is still free
        assert _sign_up(client, email).status_code == 303
        again = _sign_up(httpx.Client(base_url=site.base_url), email)
        assert again.status_code == 400 and "already exists" in again.text


def test_pages_carry_the_site_security_headers(site: ServerProcess) -> None:
    response = httpx.get(f"{site.base_url}/login")
    policy = response.headers["content-security-policy"]
    for directive in ("script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
        assert directive in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script" not in response.text  # no inline script anywhere the CSP would have to allow


def test_a_form_without_the_sessions_csrf_token_is_refused(site: ServerProcess) -> None:
    email = _email()
    with httpx.Client(base_url=site.base_url) as client:
        assert _sign_up(client, email).status_code == 303
    with httpx.Client(base_url=site.base_url) as attacker, httpx.Client(base_url=site.base_url) as victim:
        attackers_token = _csrf(attacker, "/login")
        victim.get("/login")  # the victim has a session of their own
        for data in ({}, {"csrf_token": "made-up"}, {"csrf_token": attackers_token}):
            refused = victim.post("/login", data={**data, "email": email, "password": PASSWORD})
            assert refused.status_code == 403, data
            assert "set-cookie" not in refused.headers  # no session was started
        # Without any session at all, too.
        assert httpx.post(f"{site.base_url}/login", data={"email": email, "password": PASSWORD}).status_code == 403


def test_failed_log_ins_are_rate_limited_per_address(site: ServerProcess) -> None:
    email = _email()
    with httpx.Client(base_url=site.base_url) as client:
        assert _sign_up(client, email).status_code == 303
    with httpx.Client(base_url=site.base_url) as client:
        for _ in range(5):
            wrong = _log_in(client, email, "not the password")
            assert wrong.status_code == 400 and "not right" in wrong.text
        # The sixth try is refused even with the right password, and says when to come back.
        limited = _log_in(client, email, PASSWORD)
        assert limited.status_code == 429 and "Try again in 15 minutes" in limited.text
        assert "set-cookie" not in {k.lower() for k in limited.headers if limited.status_code != 200}
        # Another address from the same client is not locked out by it.
        other = _email()
        assert _sign_up(httpx.Client(base_url=site.base_url), other).status_code == 303
        assert _log_in(client, other, PASSWORD).status_code == 303


def test_a_disabled_worker_is_logged_out_and_cannot_log_in(site: ServerProcess) -> None:
    email = _email()
    with httpx.Client(base_url=site.base_url) as client:
        assert _sign_up(client, email).status_code == 303
        worker_id = WORKER_ID.search(client.get("/").text)
        assert worker_id
        cli_keys(site.db_url, "workers", "disable", worker_id.group(0))
        assert "Log out" not in client.get("/").text  # the session ended
        refused = _log_in(client, email, PASSWORD)
        assert refused.status_code == 400 and "disabled" in refused.text
        cli_keys(site.db_url, "workers", "enable", worker_id.group(0))
        assert _log_in(client, email, PASSWORD).status_code == 303


def test_a_signed_in_page_sends_a_stranger_to_log_in_and_back(site: ServerProcess) -> None:
    """The boundary's redirect for worker pages, and the log-in form returning to where one was going
    (a path of this site only, never another host)."""
    email = _email()
    with httpx.Client(base_url=site.base_url) as client:
        assert _sign_up(client, email).status_code == 303
    with httpx.Client(base_url=site.base_url) as client:
        token = _csrf(client, "/login")
        back = client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD, "next": "/x?y=1"})
        assert back.headers["location"] == "/x?y=1"
    with httpx.Client(base_url=site.base_url) as client:
        token = _csrf(client, "/login")
        data = {"csrf_token": token, "email": email, "password": PASSWORD, "next": "//evil.example/"}
        assert client.post("/login", data=data).headers["location"] == "/"


def test_requesters_log_in_with_their_access_key_and_the_admin_with_the_token(site: ServerProcess) -> None:
    mturk = site.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    mturk.get_account_balance()  # open mode: the key makes its requester
    access_key_id = mturk._request_signer._credentials.access_key
    with httpx.Client(base_url=site.base_url) as client:
        token = _csrf(client, "/requester/login")
        signed_in = client.post("/requester/login", data={"csrf_token": token, "access_key_id": access_key_id})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/requester"
        assert "Requester A" in client.get("/").text
    with httpx.Client(base_url=site.base_url) as client:
        token = _csrf(client, "/requester/login")
        wrong = client.post("/requester/login", data={"csrf_token": token, "admin_token": "guess"})
        assert wrong.status_code == 400
        token = _csrf(client, "/requester/login")
        admin = client.post("/requester/login", data={"csrf_token": token, "admin_token": "admin-secret-token"})
        assert admin.status_code == 303
        assert "Admin" in client.get("/").text


def test_the_nul_character_anywhere_in_a_request_is_a_400_that_changes_nothing(site: ServerProcess) -> None:
    """PostgreSQL's text cannot hold NUL: each of these was a 500 there (a form field, a path
    parameter, a query value, MTurk's externalSubmit), and is refused on every store alike."""
    email = _email()
    client = httpx.Client(base_url=site.base_url, timeout=30)
    token = _csrf(client, "/signup")
    refused = client.post(
        "/signup",
        data={"csrf_token": token, "email": email, "password": PASSWORD, "password_again": PASSWORD, "name": "a\x00b"},
    )
    assert refused.status_code == 400 and "NUL" in refused.text
    assert _log_in(client, email, PASSWORD).status_code != 303  # no account was made
    assert _log_in(client, "a\x00b@example.com", PASSWORD).status_code == 400
    worker = httpx.Client(base_url=site.base_url, timeout=30)
    assert _sign_up(worker, _email()).status_code == 303
    for path in ("/work/hits/A%00B", "/work/assignments/A%00B", "/qualifications/A%00B/test", "/qualifications?q=%00"):
        answer = worker.get(path)
        assert answer.status_code == 400 and "NUL" in answer.text, path
    csrf = _csrf(worker, "/work")
    assert worker.post("/work/hits/A%00B/accept", data={"csrf_token": csrf}).status_code == 400
    submitted = httpx.post(site.base_url + "/mturk/externalSubmit", data={"assignmentId": "A\x00B", "answer": "x"})
    assert submitted.status_code == 400 and "NUL" in submitted.text


def test_a_cookie_the_site_cannot_parse_does_not_log_the_worker_out(site: ServerProcess) -> None:
    """Another page on the site's host name may set any cookie; browsers send it before the site's."""
    worker = httpx.Client(base_url=site.base_url, timeout=30)
    assert _sign_up(worker, _email()).status_code == 303
    session = next(c for c in worker.cookies.jar if c.name.endswith("openturk-session"))
    for foreign in ('x={"k":"v"}', "x=a b", 'x="unterminated', "x=\\\\"):
        page = httpx.get(
            site.base_url + "/work", headers={"Cookie": f"{foreign}; {session.name}={session.value}"}, timeout=30
        )
        assert page.status_code == 200, (foreign, page.status_code)


def test_requester_and_admin_log_ins_are_rate_limited_per_client(aws_args: list[str]) -> None:
    """Thirty failed log-ins from one client, and its log-ins answer 429 for a while, even with the
    right credentials (a wrong guess used to cost only a 0.2 s pause). Five are not enough: a key id
    is no secret, and a per-key limit would let anyone lock its requester, or the admin, out."""
    with ServerProcess(auth="sigv4", admin_token="the-right-admin-token", extra_args=aws_args) as server:
        key = cli_keys(server.db_url, "requesters", "create", "Lab")
        client = httpx.Client(base_url=server.base_url, timeout=30)

        def log_in(**fields: str) -> int:
            token = _csrf(client, "/requester/login")
            return client.post("/requester/login", data={"csrf_token": token, **fields}).status_code

        for _ in range(5):
            assert log_in(access_key_id=key["AWS_ACCESS_KEY_ID"], secret_access_key="wrong") == 400
        assert log_in(access_key_id=key["AWS_ACCESS_KEY_ID"], secret_access_key=key["AWS_SECRET_ACCESS_KEY"]) == 303
        client.cookies.clear()
        for _ in range(accounts.FAILURES_PER_CLIENT - 5):
            assert log_in(admin_token="wrong-token") == 400
        assert log_in(admin_token="the-right-admin-token") == 429
        assert log_in(access_key_id=key["AWS_ACCESS_KEY_ID"], secret_access_key=key["AWS_SECRET_ACCESS_KEY"]) == 429
