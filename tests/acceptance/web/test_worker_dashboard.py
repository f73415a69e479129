"""The worker's dashboard and messages, and the admin's worker list, in a real Chromium against a real
server: work done through boto3 and the worker API shows up, exactly, for that worker only."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from openturk.testing import ServerProcess, Worker
from tests.acceptance.web.test_accounts import PASSWORD, WORKER_ID, _csrf, _email, _sign_up
from tests.conftest import hit_params
from tests.support.browser import DESKTOP, PHONE, check_page

ADMIN_TOKEN = "admin-secret-token"
MONTH_S = 30 * 24 * 3600


@pytest.fixture(scope="module")
def site(aws_args: list[str]) -> Iterator[ServerProcess]:
    with ServerProcess(virtual_clock=True, admin_token=ADMIN_TOKEN, extra_args=aws_args) as running:
        yield running


def _new_worker(site: ServerProcess) -> tuple[str, str, httpx.Client]:
    """A signed-up worker: (e-mail, WorkerId, an httpx client holding their session)."""
    email = _email()
    client = httpx.Client(base_url=site.base_url)
    assert _sign_up(client, email).status_code == 303
    found = WORKER_ID.search(client.get("/").text)
    assert found
    return email, found.group(0), client


def _log_in(page: Any, site: ServerProcess, email: str) -> None:
    page.goto(f"{site.base_url}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))


def _hit(mturk: Any, title: str, reward: str) -> str:
    params = hit_params(Title=title, Reward=reward, AutoApprovalDelayInSeconds=MONTH_S)
    return str(mturk.create_hit(**params)["HIT"]["HITId"])


def _row(page: Any, assignment_id: str) -> Any:
    return page.locator(f"#assignment-{assignment_id}")


def test_the_dashboard_shows_each_status_the_feedback_and_exact_earnings(site: ServerProcess, page: Any) -> None:
    email, worker_id, _ = _new_worker(site)
    other_email, _, _ = _new_worker(site)
    mturk = site.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    worker = Worker(site.base_url, worker_id)
    approved = worker.do(_hit(mturk, "Approved task", "0.37"))
    rejected = worker.do(_hit(mturk, "Rejected task", "1.10"))
    pending = worker.do(_hit(mturk, "Pending task", "0.25"))
    mturk.approve_assignment(AssignmentId=approved, RequesterFeedback="Well done")
    mturk.send_bonus(
        WorkerId=worker_id,
        BonusAmount="1.29",
        AssignmentId=approved,
        Reason="Extra <b>care</b>",
        UniqueRequestToken=uuid.uuid4().hex,
    )
    mturk.reject_assignment(AssignmentId=rejected, RequesterFeedback="Missed <i>the</i> label")

    _log_in(page, site, email)
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert "Approved" in _row(page, approved).inner_text()
    assert "Pending" in _row(page, pending).inner_text()
    rejected_row = _row(page, rejected).inner_text()
    assert "Rejected" in rejected_row and "Rejected task" in rejected_row
    # The feedback is shown as the requester wrote it: as text, never as markup.
    assert "Missed <i>the</i> label" in rejected_row
    assert page.locator("main i").count() == 0 and page.locator("main b").count() == 0
    assert "Well done" in _row(page, approved).inner_text()
    bonus = page.locator(".bonuses li").inner_text()
    assert "$1.29" in bonus and "Extra <b>care</b>" in bonus and "Approved task" in bonus
    assert page.locator("#approved").inner_text() == "$0.37"
    assert page.locator("#pending").inner_text() == "$0.25"
    assert page.locator("#bonuses").inner_text() == "$1.29"
    assert page.locator("#earned").inner_text() == "$1.66"  # 0.37 approved + 1.29 bonus
    assert page.locator("#rejected").inner_text() == "1"
    day_totals = page.locator(".day-totals").inner_text()
    assert "Approved $0.37" in day_totals and "Pending $0.25" in day_totals and "Bonuses $1.29" in day_totals
    check_page(page, "dashboard")
    # On a phone each row is a card: the feedback takes the value column, its label on one line.
    page.set_viewport_size(PHONE)
    row = _row(page, rejected).bounding_box()
    feedback = _row(page, rejected).locator(".feedback").bounding_box()
    label = _row(page, rejected).locator(".feedback-label").bounding_box()
    assert feedback["width"] > row["width"] / 2, (feedback, row)
    assert label["height"] < 1.5 * _row(page, rejected).locator(".status").bounding_box()["height"], label
    page.set_viewport_size(DESKTOP)

    # Another worker, who did a HIT of the same requester the same day, sees only their own.
    page.context.clear_cookies()
    _log_in(page, site, other_email)
    page.goto(f"{site.base_url}/dashboard")
    assert "You have not worked on any HIT yet" in page.inner_text("main")
    assert page.locator("#earned").inner_text() == "$0.00"
    check_page(page, "dashboard-empty")
    other_id = WORKER_ID.search(page.inner_text("header"))
    assert other_id
    theirs = Worker(site.base_url, other_id.group(0)).do(_hit(mturk, "Their task", "0.50"))
    page.reload()
    main = page.inner_text("main")
    assert theirs in main and "Their task" in main
    for assignment_id in (approved, rejected, pending):
        assert assignment_id not in main
    assert page.locator("#pending").inner_text() == "$0.50" and page.locator("#bonuses").inner_text() == "$0.00"
    assert page.locator("#approved").inner_text() == "$0.00" and page.locator("#rejected").inner_text() == "0"
    assert page.locator(".bonuses").count() == 0


def test_notify_workers_messages_appear_escaped_with_their_line_breaks(site: ServerProcess, page: Any) -> None:
    email, worker_id, _ = _new_worker(site)
    other_email, _, _ = _new_worker(site)
    mturk = site.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    Worker(site.base_url, worker_id).do(_hit(mturk, "Some task", "0.10"))
    mturk.notify_workers(Subject="First <em>note</em>", MessageText="Older message", WorkerIds=[worker_id])
    text = "Thanks for your work.\n<script>document.title='owned'</script>\nSecond line"
    mturk.notify_workers(Subject="Hello <b>there</b>", MessageText=text, WorkerIds=[worker_id])

    _log_in(page, site, email)
    page.get_by_role("link", name="Messages").click()
    page.wait_for_url(re.compile(r"/messages$"))
    subjects = page.locator(".message h2").all_inner_texts()
    assert subjects == ["Hello <b>there</b>", "First <em>note</em>"]  # newest first, as text
    newest = page.locator(".message").first
    assert newest.locator(".message-text").inner_text() == text  # escaped, line breaks kept
    assert "From " in newest.locator(".meta").inner_text()
    assert page.locator("main script, main b, main em").count() == 0
    assert page.title() != "owned"
    check_page(page, "messages")

    page.context.clear_cookies()
    _log_in(page, site, other_email)
    page.goto(f"{site.base_url}/messages")
    assert "No messages yet" in page.inner_text("main") and page.locator(".message").count() == 0
    check_page(page, "messages-empty")


def test_the_dashboard_pages_by_day_newest_first(site: ServerProcess) -> None:
    _, worker_id, client = _new_worker(site)
    mturk = site.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    worker = Worker(site.base_url, worker_id)
    done = []
    for day in range(8):  # one assignment on each of eight days: seven a page
        done.append(worker.do(_hit(mturk, f"Task of day {day}", "0.01")))
        site.advance(24 * 3600)
    first, second = client.get("/dashboard"), client.get("/dashboard", params={"page": "2"})
    assert first.status_code == second.status_code == 200
    assert [a for a in done if a in first.text] == done[1:]
    assert [a for a in done if a in second.text] == done[:1]
    order = [first.text.index(a) for a in reversed(done[1:])]
    assert order == sorted(order)  # newest day first
    assert "Page 1 of 2" in first.text and "Older days" in first.text
    assert 'id="pending">$0.08<' in first.text  # the totals are over every page
    assert "nothing on this page" in client.get("/dashboard", params={"page": "3"}).text
    for bad in ("0", "-1", "x", "1.5", "9999999999"):
        refused = client.get("/dashboard", params={"page": bad})
        assert refused.status_code == 400 and "page must be a whole number" in refused.text
    assert client.get("/messages", params={"before": "x"}).status_code == 400


def test_worker_pages_need_a_worker_session(site: ServerProcess) -> None:
    for path in ("/dashboard", "/messages"):
        stranger = httpx.get(f"{site.base_url}{path}")
        assert stranger.status_code == 303 and stranger.headers["location"] == f"/login?next=%2F{path[1:]}"
    with httpx.Client(base_url=site.base_url) as admin:
        _admin_log_in(admin)
        assert admin.get("/dashboard").status_code == 303  # an admin is no worker


def _admin_log_in(client: httpx.Client) -> None:
    token = _csrf(client, "/requester/login")
    assert client.post("/requester/login", data={"csrf_token": token, "admin_token": ADMIN_TOKEN}).status_code == 303


def test_the_admin_disables_a_worker_from_the_page_and_their_session_ends(site: ServerProcess, page: Any) -> None:
    email, worker_id, worker_client = _new_worker(site)
    assert worker_client.get("/dashboard").status_code == 200
    page.goto(f"{site.base_url}/requester/login")
    page.get_by_text("Administrator").click()
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/requester$"))
    page.goto(f"{site.base_url}/")  # the requester dashboard is another engineer's; the nav is on every page
    page.get_by_role("link", name="Workers").click()
    page.wait_for_url(re.compile(r"/admin/workers$"))
    row = page.locator(f"#worker-{worker_id}")
    assert email in row.inner_text() and "Active" in row.inner_text()
    check_page(page, "admin-workers")

    row.get_by_role("button", name=f"Disable {worker_id}").click()
    page.wait_for_url(re.compile(rf"/admin/workers\?page=1#worker-{worker_id}$"))
    assert "Disabled" in page.locator(f"#worker-{worker_id}").inner_text()
    ended = worker_client.get("/dashboard")
    assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
    token = _csrf(worker_client, "/login")
    refused = worker_client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
    assert refused.status_code == 400 and "disabled" in refused.text
    check_page(page, "admin-workers-disabled")

    page.locator(f"#worker-{worker_id}").get_by_role("button", name=f"Enable {worker_id}").click()
    page.wait_for_url(re.compile(rf"#worker-{worker_id}$"))
    assert "Active" in page.locator(f"#worker-{worker_id}").inner_text()
    token = _csrf(worker_client, "/login")
    back = worker_client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
    assert back.status_code == 303


def test_only_the_admin_manages_workers(site: ServerProcess) -> None:
    _, worker_id, worker_client = _new_worker(site)
    mturk = site.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    mturk.get_account_balance()
    access_key_id = mturk._request_signer._credentials.access_key
    with httpx.Client(base_url=site.base_url) as requester:
        token = _csrf(requester, "/requester/login")
        signed_in = requester.post("/requester/login", data={"csrf_token": token, "access_key_id": access_key_id})
        assert signed_in.status_code == 303
        listing = requester.get("/admin/workers")
        assert listing.status_code == 403 and worker_id not in listing.text
        assert 'href="/admin/workers"' not in requester.get("/").text  # no nav link either
        csrf = _csrf(requester, "/")
        post = requester.post(f"/admin/workers/{worker_id}/disabled", data={"csrf_token": csrf, "disabled": "1"})
        assert post.status_code == 403
    assert worker_client.get("/dashboard").status_code == 200  # still signed in: nothing was disabled
    # A worker is sent to the requester log-in; a stranger's post is refused before any handler.
    assert worker_client.get("/admin/workers").status_code == 303
    assert httpx.post(f"{site.base_url}/admin/workers/{worker_id}/disabled", data={"disabled": "1"}).status_code == 403


def test_the_admin_form_refuses_bad_input_and_writes_nothing(site: ServerProcess) -> None:
    _, worker_id, worker_client = _new_worker(site)
    with httpx.Client(base_url=site.base_url) as admin:
        _admin_log_in(admin)
        csrf = _csrf(admin, "/admin/workers")
        url = f"/admin/workers/{worker_id}/disabled"
        assert admin.post(url, data={"disabled": "1"}).status_code == 403  # no CSRF token
        wrong = admin.post(url, data={"csrf_token": csrf, "disabled": "yes"})
        assert wrong.status_code == 400 and "disabled must be 1" in wrong.text
        unknown = admin.post("/admin/workers/bad-id/disabled", data={"csrf_token": csrf, "disabled": "1"})
        assert unknown.status_code == 400
        no_account = admin.post("/admin/workers/ANOACCOUNT123/disabled", data={"csrf_token": csrf, "disabled": "1"})
        assert no_account.status_code == 404 and "no web account" in no_account.text
        assert admin.get("/admin/workers", params={"page": "x"}).status_code == 400
    assert worker_client.get("/dashboard").status_code == 200
