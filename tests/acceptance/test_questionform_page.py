"""A QuestionForm with every answer type works in Debian's Chromium: labelled, filled, checked by the
browser first and by the server again, and free of serious accessibility violations (axe-core)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openturk.web.questionform import UploadedFile, parse, render, validate
from tests.support.browser import ARTIFACTS, serious_violations
from tests.support.questionforms import EVERYTHING, EVERYTHING_ANSWERS, EVERYTHING_POSTED

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "openturk" / "web" / "static"
SCREENSHOTS = ARTIFACTS
ACTION = "https://task.test/submit"  # answered by page.route: nothing leaves the machine

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Describe the picture</title></head>
<body><main><h1>Describe the picture</h1>{form}</main></body></html>"""


@pytest.fixture(scope="module")
def browser(chromium: Any) -> Any:
    """Debian's Chromium (tests/support/browser.py: missing is a failure, never a skip)."""
    return chromium


def open_form(browser: Any, posted: list[Any], width: int = 1000, **render_args: Any) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})

    def answer(route: Any) -> None:
        if route.request.url == ACTION:
            posted.append(route.request)
            route.fulfill(status=200, content_type="text/html", body="<!DOCTYPE html><title>Posted</title>")
        else:
            route.abort()  # requester media on example.com: no network in tests

    page.route("**/*", answer)
    page.set_content(PAGE.format(form=render(parse(EVERYTHING), ACTION, **render_args)))
    page.add_style_tag(path=str(STATIC / "questionform.css"))
    page.add_script_tag(path=str(STATIC / "questionform.js"))
    return page


def validity(page: Any, selector: str) -> dict[str, Any]:
    return dict(
        page.locator(selector).evaluate(
            "e => ({valid: e.validity.valid, rangeOverflow: e.validity.rangeOverflow, "
            "patternMismatch: e.validity.patternMismatch, valueMissing: e.validity.valueMissing, "
            "customError: e.validity.customError, message: e.validationMessage})"
        )
    )


def fill_every_control(page: Any) -> None:
    page.get_by_label("Cat's age").fill("7")
    page.get_by_label("Code").fill("ABC")
    page.get_by_label("Word").fill("CAT")
    page.get_by_label("Story").fill("Once upon a time")
    page.get_by_label("Green").first.check()
    page.locator("#qf-7-c1").check()  # Likes: Red
    page.locator("#qf-7-c3").check()  # Likes: Blue
    page.get_by_label("Size").select_option("l")
    page.get_by_label("Mood").select_option("h")
    page.get_by_label("Breed").select_option("y")
    page.get_by_label("Toys").select_option(["ball", "box"])
    page.get_by_label("Your other answer").fill("mice")
    page.get_by_label("Photo").set_input_files(
        files=[{"name": "cat.txt", "mimeType": "text/plain", "buffer": b"m" * 500}]
    )


def form_data(page: Any) -> dict[str, list[str]]:
    entries = page.evaluate(
        "[...new FormData(document.querySelector('form.qf')).entries()]"
        ".map(([k, v]) => [k, typeof v === 'string' ? v : 'file:' + v.size])"
    )
    submitted: dict[str, list[str]] = {}
    for name, value in entries:
        submitted.setdefault(name, []).append(value)
    return submitted


def test_every_answer_type_is_filled_checked_and_submitted(browser: Any) -> None:
    posted: list[Any] = []
    page = open_form(browser, posted)
    fill_every_control(page)
    # Typing an "Other" answer chose Other, as the server will read it.
    assert page.locator("#qf-12-cother").is_checked()
    assert page.evaluate("document.querySelector('form.qf').checkValidity()") is True
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "questionform.png"), full_page=True)

    submitted = form_data(page)
    file_size = int(submitted.pop("photo")[0].removeprefix("file:"))
    answers, errors = validate(parse(EVERYTHING), submitted, {"photo": UploadedFile("KEY", file_size)})
    assert errors == {}
    assert submitted == EVERYTHING_POSTED
    assert answers == EVERYTHING_ANSWERS
    with page.expect_request(ACTION):
        page.get_by_role("button", name="Submit").click()
    assert posted and posted[0].method == "POST"
    page.close()


@pytest.mark.parametrize(
    ("selector", "bad", "flag", "message"),
    [
        ("#qf-2-answer", "99", "rangeOverflow", None),
        ("#qf-3-answer", "abc", "patternMismatch", None),
        ("#qf-4-answer", "dog", "customError", "Type the word cat."),
    ],
)
def test_the_browser_blocks_a_bad_value(browser: Any, selector: str, bad: str, flag: str, message: str | None) -> None:
    posted: list[Any] = []
    page = open_form(browser, posted)
    fill_every_control(page)
    page.locator(selector).fill(bad)
    state = validity(page, selector)
    assert state[flag] is True and state["valid"] is False
    if message is not None:
        assert state["message"] == message
    page.get_by_role("button", name="Submit").click()
    assert page.evaluate("document.activeElement.id") == selector.lstrip("#")  # the browser focused it
    assert posted == []
    page.close()


def test_the_script_checks_selection_counts_and_file_sizes(browser: Any) -> None:
    page = open_form(browser, [])
    fill_every_control(page)
    page.locator("#qf-7-c2").check()  # a third colour where at most 2 are allowed
    assert validity(page, "#qf-7-c1")["message"] == "Choose from 1 to 2."
    page.locator("#qf-7-c2").uncheck()
    assert validity(page, "#qf-7-c1")["valid"] is True
    page.get_by_label("Photo").set_input_files(files=[{"name": "a", "mimeType": "text/plain", "buffer": b"x"}])
    assert validity(page, "#qf-13-answer")["message"] == (
        "The file is 1 bytes; the question requires at least 10 bytes."
    )
    page.get_by_label("Name").fill("")
    assert validity(page, "#qf-1-answer")["valueMissing"] is True
    page.close()


@pytest.mark.parametrize("width", [1000, 390])
def test_no_serious_accessibility_violations(browser: Any, width: int) -> None:
    page = open_form(browser, [], width=width)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"questionform-{width}.png"), full_page=True)
    assert serious_violations(page) == []
    page.close()


def test_no_serious_accessibility_violations_when_errors_are_shown(browser: Any) -> None:
    submitted = {"name": ["x"], "likes": ["red", "green", "blue"], "age": ["99"]}
    _, errors = validate(parse(EVERYTHING), submitted)
    page = open_form(browser, [], width=390, values=submitted, errors=errors)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "questionform-errors-390.png"), full_page=True)
    assert page.get_by_role("alert").is_visible()
    assert page.locator("#qf-1-answer").get_attribute("aria-invalid") == "true"
    assert serious_violations(page) == []
    page.close()
