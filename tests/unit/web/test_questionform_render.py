"""QuestionForm documents become a render model and accessible, escaped HTML with the browser's own checks."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from jinja2 import ChoiceLoader, DictLoader

from openturk.domain.questionform import model
from openturk.errors import XMLParseError
from openturk.web.questionform import parse, render
from openturk.web.questionform.render import environment
from tests.support.questionforms import (
    COLOURS,
    EVERYTHING,
    free_text,
    question,
    question_form,
    selection,
    upload,
)

QF_2017 = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2017-11-06/QuestionForm.xsd"


class _Elements(HTMLParser):
    """Every start tag with its attributes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def elements(html: str, tag: str | None = None) -> list[dict[str, str | None]]:
    parser = _Elements()
    parser.feed(html)
    return [attrs for name, attrs in parser.found if tag is None or name == tag]


def controls(html: str) -> list[dict[str, str | None]]:
    parser = _Elements()
    parser.feed(html)
    return [
        {"tag": name, **attrs}
        for name, attrs in parser.found
        if name in ("input", "select", "textarea") and attrs.get("type") != "hidden"
    ]


def one(html: str, **where: str) -> dict[str, str | None]:
    found = [c for c in controls(html) if all(c.get(key) == value for key, value in where.items())]
    assert len(found) == 1, found
    return found[0]


def page(*parts: str) -> str:
    return render(parse(question_form(*parts)), "/submit")


# --- the model -------------------------------------------------------------------------------------


def test_every_content_type_is_read() -> None:
    form = parse(EVERYTHING)
    overview = form.parts[0]
    assert isinstance(overview, model.Overview)
    kinds = [item.kind for item in overview.content]
    assert kinds == ["Title", "Text", "List", *["Binary"] * 4, "Unsupported", "Binary", "FormattedContent"]
    media = [item.media for item in overview.content if isinstance(item, model.Binary)]
    assert media == ["image", "audio", "video", "other", "image"]
    assert [q.answer.kind for q in form.questions] == ["free"] * 5 + ["selection"] * 7 + ["upload"]


def test_mturk_defaults() -> None:
    form = parse(question_form(question("a", selection(COLOURS)), question("b", selection(COLOURS, high=2))))
    first, second = (q.answer for q in form.questions)
    assert isinstance(first, model.Selection) and isinstance(second, model.Selection)
    assert (first.style, first.min_count, first.max_count) == ("radiobutton", 1, 1)
    assert (second.style, second.max_count) == ("checkbox", 2)
    assert not form.questions[0].required


def test_a_minimum_length_makes_the_question_required() -> None:
    form = parse(question_form(question("a", free_text('<Length minLength="1"/>')), question("b", free_text())))
    assert [q.required for q in form.questions] == [True, False]


def test_the_2017_namespace_is_read_too() -> None:
    form = parse(question_form(question("a", free_text()), namespace=QF_2017))
    assert form.questions[0].identifier == "a"


@pytest.mark.parametrize(
    ("element", "part"),
    [
        ("FileUploadAnswer", question("f", upload(1, 100))),
        (
            "Application",
            "<Overview><Application><JavaApplet><AppletPath>http://example.com/</AppletPath>"
            "<AppletFilename>a.class</AppletFilename></JavaApplet></Application></Overview>",
        ),
    ],
)
def test_the_2017_namespace_has_no_uploads_or_applications(element: str, part: str) -> None:
    """MTurk's 2017-11-06 schema dropped both; the 2005-10-01 one keeps them."""
    parse(question_form(part))
    with pytest.raises(XMLParseError, match=f"2017-11-06 QuestionForm schema has no {element}"):
        parse(question_form(part, namespace=QF_2017))


def test_a_data_url_that_is_not_http_is_not_used() -> None:
    form = parse(
        question_form(
            "<Overview><Binary><MimeType><Type>image</Type></MimeType><DataURL>javascript:alert(1)</DataURL>"
            "<AltText>x</AltText></Binary></Overview>",
            question("a", free_text()),
        )
    )
    overview = form.parts[0]
    assert isinstance(overview, model.Overview) and isinstance(overview.content[0], model.Binary)
    assert overview.content[0].url is None
    assert "javascript" not in render(form, "/s")


def test_the_other_choice_never_takes_a_selection_identifier() -> None:
    form = parse(
        question_form(
            question("a", selection({"__other__": "<Text>x</Text>"}, other="<OtherSelection/>")),
            question("a.OtherSelectionText", free_text()),
        )
    )
    spec = form.questions[0].answer
    assert isinstance(spec, model.Selection)
    assert spec.other_value != "__other__"
    assert spec.other_field != "a.OtherSelectionText"


@pytest.mark.parametrize(
    "document",
    [
        question_form(question("a", free_text('<AnswerFormatRegex regex="(" errorText="x"/>'))),
        question_form(question("a", free_text('<AnswerFormatRegex regex="a" flags="x"/>'))),
        question_form(question("a", free_text('<IsNumeric minValue="5" maxValue="1"/>'))),
        question_form(question("a", free_text('<IsNumeric minValue="one"/>'))),
        question_form(question("a", free_text('<Length minLength="5" maxLength="1"/>'))),
        question_form(question("a", selection(COLOURS, style="slider"))),
        question_form(question("a", selection(COLOURS, low=3, high=2))),
        question_form(question("a", selection({"x": "<Text>x</Text>"}, low=2, high=2))),
        question_form(question("a", selection({"x": "<Text>x</Text>", "x ": "<Text>y</Text>"}))),
        '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/'
        'HTMLQuestion.xsd"><HTMLContent>&lt;!DOCTYPE html&gt;</HTMLContent><FrameHeight>0</FrameHeight></HTMLQuestion>',
    ],
)
def test_what_cannot_be_rendered_is_an_xml_parse_error(document: str) -> None:
    with pytest.raises(XMLParseError):
        parse(document)


# --- the HTML ---------------------------------------------------------------------------------------


def test_every_control_is_labelled() -> None:
    html = render(parse(EVERYTHING), "/submit")
    labelled = {attrs.get("for") for attrs in elements(html, "label")}
    for control in controls(html):
        assert control.get("id") in labelled, control
    assert len(elements(html, "fieldset")) == len(elements(html, "legend")) == 3


def test_every_text_is_escaped() -> None:
    evil = "&lt;script&gt;alert(1)&lt;/script&gt;"
    html = page(
        f"<Overview><Title>{evil}</Title><Text>{evil}</Text><List><ListItem>{evil}</ListItem></List></Overview>",
        question(
            "q&quot;&gt;&lt;script&gt;",
            selection({'s"&gt;&lt;script&gt;': f"<Text>{evil}</Text>"}, style="dropdown", other="<OtherSelection/>"),
            name=evil,
        ),
        question("t", free_text(default=evil, lines=3)),
        question("u", free_text(f'<AnswerFormatRegex regex="x" errorText="{evil}"/>', default=evil)),
    )
    assert "<script" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 7


def test_free_text_gets_the_browsers_checks() -> None:
    html = page(
        question("n", free_text('<IsNumeric minValue="1" maxValue="30"/>'), required=True),
        question("l", free_text('<Length minLength="2" maxLength="20"/>', default="Tom")),
        question("r", free_text('<AnswerFormatRegex regex="^[A-Z]{3}$" errorText="ABC"/>')),
        question("f", free_text('<AnswerFormatRegex regex="^cat$" flags="i"/>')),
        question("t", free_text('<Length maxLength="500"/>', lines=5)),
    )
    number = one(html, name="n")
    assert (number["type"], number["min"], number["max"], number["step"]) == ("number", "1", "30", "any")
    assert "required" in number and number["aria-required"] == "true"
    length = one(html, name="l")
    assert (length["minlength"], length["maxlength"], length["value"]) == ("2", "20", "Tom")
    pattern = one(html, name="r")["pattern"]
    assert pattern is not None and re.fullmatch(pattern, "ABC") and not re.fullmatch(pattern, "ABCD")
    flagged = one(html, name="f")
    assert "pattern" not in flagged and '"flags": "i"' in (flagged["data-qf-regexes"] or "")
    area = one(html, name="t")
    assert (area["tag"], area["rows"], area["maxlength"]) == ("textarea", "5", "500")


@pytest.mark.parametrize(
    ("style", "high", "tag", "kind", "multiple"),
    [
        ("radiobutton", 1, "input", "radio", False),
        ("checkbox", 2, "input", "checkbox", True),
        ("dropdown", 1, "select", None, False),
        ("combobox", 1, "select", None, False),
        ("combobox", 2, "select", None, True),
        ("radiobutton", 2, "input", "checkbox", True),
        ("dropdown", 2, "select", None, True),
        ("list", 1, "select", None, False),
        ("list", 2, "select", None, True),
        ("multichooser", 3, "select", None, True),
    ],
)
def test_every_style_suggestion_has_its_control(
    style: str, high: int, tag: str, kind: str | None, multiple: bool
) -> None:
    html = page(question("c", selection(COLOURS, style=style, high=high), required=True, name="Colour"))
    found = [c for c in controls(html) if c["name"] == "c"]
    assert {c["tag"] for c in found} == {tag}
    if tag == "input":
        assert [c["type"] for c in found] == [kind] * 3
        assert [c["value"] for c in found] == list(COLOURS)
        assert "<legend" in html and "Colour <span" in html
    else:
        assert len(found) == 1 and ("multiple" in found[0]) == multiple
        values = [o.get("value") for o in elements(html, "option")]
        assert [v for v in values if v] == list(COLOURS)
        assert "required" in found[0]


def test_other_selection_is_a_choice_and_a_labelled_text() -> None:
    html = page(
        question(
            "food",
            selection(
                COLOURS, other='<OtherSelection><Constraints><Length maxLength="9"/></Constraints></OtherSelection>'
            ),
        )
    )
    other = one(html, name="food.OtherSelectionText")
    assert other["maxlength"] == "9"
    assert any(c["value"] == "__other__" for c in controls(html) if c["name"] == "food")


def test_file_upload_is_a_file_input_in_a_multipart_form() -> None:
    html = page(question("photo", upload(10, 1000), required=True))
    photo = one(html, name="photo")
    assert (photo["type"], photo["data-qf-min-bytes"], photo["data-qf-max-bytes"]) == ("file", "10", "1000")
    assert 'enctype="multipart/form-data"' in html
    assert "File size from 10 to 1000 bytes." in html


def test_constraint_hints_are_visible_and_described() -> None:
    html = page(question("n", free_text('<IsNumeric minValue="1" maxValue="30"/>'), required=True))
    assert '<p class="qf-hint" id="qf-1-hint">Required. A number from 1 to 30.</p>' in html
    assert one(html, name="n")["aria-describedby"] == "qf-1-content qf-1-hint"


def test_errors_are_shown_linked_and_the_answers_kept() -> None:
    form = parse(question_form(question("n", free_text(), name="Name"), question("c", selection(COLOURS, high=2))))
    html = render(form, "/submit", values={"n": ["too <long>"], "c": ["red", "blue"]},
                  errors={"n": "Enter at most 3 characters.", "c": "Choose from 1 to 2."})  # fmt: skip
    name = one(html, name="n")
    assert name["value"] == "too <long>" and name["aria-invalid"] == "true"
    assert name["aria-describedby"] == "qf-1-content qf-1-hint qf-1-error"
    assert '<p class="qf-error" id="qf-1-error">Error: Enter at most 3 characters.</p>' in html
    assert '<a href="#qf-1-answer">Name: Enter at most 3 characters.</a>' in html
    assert '<a href="#qf-2-c1">Question 2: Choose from 1 to 2.</a>' in html
    assert [c["value"] for c in controls(html) if c["name"] == "c" and "checked" in c] == ["red", "blue"]


def test_default_text_is_shown_only_on_the_first_display() -> None:
    form = parse(question_form(question("n", free_text(default="Tom"))))
    assert one(render(form, "/s"), name="n")["value"] == "Tom"
    assert one(render(form, "/s", values={"n": [""]}), name="n")["value"] == ""


def test_hidden_fields_and_action_are_escaped() -> None:
    form = parse(question_form(question("n", free_text())))
    html = render(form, '/s?a="b"', hidden={"csrf": '"><script>'})
    assert "<script" not in html
    assert elements(html, "form")[0]["action"] == '/s?a="b"'
    assert elements(html, "input")[0]["value"] == '"><script>'


def test_the_page_needs_no_inline_script() -> None:
    html = render(parse(EVERYTHING), "/submit")
    assert "<script" not in html and not re.search(r"\son[a-z]+=", html)


@pytest.mark.parametrize(
    ("regex", "portable"),
    [("^[A-Z]{3}$", True), (r"\d+", True), ("^(cat|dog)$", True), (r"(?P<x>a)", False), (r"\Aa", False),
     ("[a-z-]", False), ("(?i)a", False), ("a\\-b", False)],
)  # fmt: skip
def test_only_regexes_javascript_reads_alike_become_patterns(regex: str, portable: bool) -> None:
    assert (model.AnswerRegex(regex, "", None).html_pattern is not None) == portable


def test_a_site_page_can_include_the_partial_with_just_the_form_and_action() -> None:
    pages = DictLoader({"task.html": '<main>{% include "questionform.html" %}</main>'})
    site = environment().overlay(loader=ChoiceLoader([pages, environment().loader]))
    form = parse(question_form(question("n", free_text(default="Tom"))))
    html = site.get_template("task.html").render(form=form, action="/work/submit")
    assert html == f"<main>{render(form, '/work/submit')}</main>"
