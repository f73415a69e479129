"""Rendering HIT layouts into HTMLQuestion documents."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openturk.domain import questions
from openturk.domain.layouts import HITLayout, check_template, placeholders, render
from openturk.errors import InvalidParameterValue

PAGE = "<!DOCTYPE html><html><body><p>${a}</p><p>${b}</p><p>${a}</p></body></html>"


def _layout(template: str, frame_height: int = 0) -> HITLayout:
    return HITLayout("3LAYOUT", "ACUSTOMER", "test", template, frame_height)


def test_placeholders_in_order_of_first_use() -> None:
    assert placeholders(PAGE) == ["a", "b"]
    assert placeholders("no placeholders, ${ spaced } or $name") == []


def test_whole_page_is_kept_and_fragment_is_wrapped() -> None:
    page = questions.parse_question(
        render(_layout(PAGE, 450), [{"Name": "a", "Value": "1"}, {"Name": "b", "Value": "2"}])
    )
    assert page.html == "<!DOCTYPE html><html><body><p>1</p><p>2</p><p>1</p></body></html>"
    assert page.frame_height == 450
    fragment = questions.parse_question(render(_layout("<b>${x}</b>"), [{"Name": "x", "Value": "y"}]))
    assert fragment.html is not None and fragment.html.startswith("<!DOCTYPE html>")
    assert "<body><b>y</b></body>" in fragment.html


@pytest.mark.parametrize("before", ["\ufeff", "<!-- survey v2 -->\n", "\n  <!-- a\nlicence -->  "])
def test_a_page_behind_a_byte_order_mark_or_comments_is_kept_whole(before: str) -> None:
    page = questions.parse_question(
        render(_layout(before + "<!doctype html><html><body>${x}</body></html>"), [{"Name": "x", "Value": "y"}])
    )
    assert page.html is not None and "<body>y</body>" in page.html
    assert page.html.count("<body>") == 1


def test_many_comments_before_a_fragment_take_linear_time() -> None:
    """A comment that could stretch to a later one's end made each comment double the time (ReDoS
    through HITLayoutParameters)."""
    started = time.monotonic()
    html = questions.parse_question(
        render(_layout("${x}<div>y</div>"), [{"Name": "x", "Value": "<!-- a -->" * 2000}])
    ).html
    assert html is not None and html.startswith("<!DOCTYPE html>") and time.monotonic() - started < 2


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")), max_size=200))
def test_any_value_survives_as_given(value: str) -> None:
    question = questions.parse_question(render(_layout("<p>${v}</p>"), [{"Name": "v", "Value": value}]))
    assert question.html is not None and f"<p>{value}</p>" in question.html


@pytest.mark.parametrize(
    ("parameters", "words"),
    [
        ([{"Name": "a", "Value": "1"}], "needs a value for b"),
        ([{"Name": "a", "Value": "1"}, {"Name": "b", "Value": "2"}, {"Name": "c", "Value": "3"}], "'c' is not used"),
        ([{"Name": "a", "Value": "1"}, {"Name": "a", "Value": "1"}, {"Name": "b", "Value": "2"}], "more than once"),
    ],
)
def test_parameters_must_match_the_template(parameters: list[dict[str, str]], words: str) -> None:
    with pytest.raises(InvalidParameterValue, match=words):
        render(_layout(PAGE), parameters)


def test_unusable_templates() -> None:
    with pytest.raises(ValueError, match="empty"):
        check_template("  \n")
    with pytest.raises(ValueError, match="at most"):
        check_template("x" * 70_000)
    # Not HTML5: every HIT made from it would be refused, so it is refused when stored.
    with pytest.raises(ValueError, match="would be refused"):
        check_template('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"><html><p>${a}</p></html>')
    check_template("<p>${a}</p>")  # a fragment is fine: it is wrapped
    check_template("  <!doctype HTML><html><p>${a}</p></html>")
