"""MTurk's four frame parameters, appended as MTurk did."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from openturk.domain.frame_urls import origin, with_task_parameters


def test_work_appends_all_four_keeping_the_urls_own_query() -> None:
    url = with_task_parameters(
        "https://example.org/study?x=1#top",
        assignment_id="ASG1",
        hit_id="HIT1",
        turk_submit_to="http://127.0.0.1:8445/submit/T",
        worker_id="AW1",
    )
    parts = urlsplit(url)
    assert url.count("?") == 1 and parts.fragment == "top"
    assert parse_qsl(parts.query) == [
        ("x", "1"),
        ("assignmentId", "ASG1"),
        ("hitId", "HIT1"),
        ("turkSubmitTo", "http://127.0.0.1:8445/submit/T"),
        ("workerId", "AW1"),
    ]


def test_a_preview_has_mturks_placeholder_and_no_worker() -> None:
    url = with_task_parameters(
        "https://example.org/t", assignment_id=None, hit_id="H", turk_submit_to="S", worker_id="AW1"
    )
    assert dict(parse_qsl(urlsplit(url).query)) == {
        "assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE",
        "hitId": "H",
        "turkSubmitTo": "S",
    }


def test_origin_is_what_a_browser_compares() -> None:
    assert origin("https://Lab.Example.org/pub?mode=sandbox") == "https://lab.example.org:443"
    assert origin("https://lab.example.org:443/x") == origin("https://lab.example.org/y")
    assert origin("http://127.0.0.1:8443/work") == "http://127.0.0.1:8443"
    assert origin("http://127.0.0.1:8443") != origin("http://localhost:8443")
    assert origin("http://127.0.0.1:8443") != origin("http://127.0.0.1:8445")
    assert origin("http://[::1]:8443/") == "http://[::1]:8443"
    assert origin("http://127.0.0.1:notaport/") == ""
