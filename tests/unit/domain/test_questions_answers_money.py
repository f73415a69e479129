"""Question parsing, answer documents and money, without a server."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openturk.domain import answers, money, questions
from openturk.errors import InvalidParameterValue, XMLParseError

NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/"
FORM = (
    f'<QuestionForm xmlns="{NS}2017-11-06/QuestionForm.xsd"><Question><QuestionIdentifier>q1</QuestionIdentifier>'
    "<QuestionContent><Text>Colour?</Text></QuestionContent><AnswerSpecification><SelectionAnswer><Selections>"
    "<Selection><SelectionIdentifier>red</SelectionIdentifier><Text>Red</Text></Selection></Selections>"
    "</SelectionAnswer></AnswerSpecification></Question></QuestionForm>"
)


def test_question_form_is_parsed_with_answer_kinds() -> None:
    assert questions.parse_question(FORM).answer_kinds == (("q1", "selection"),)


@pytest.mark.parametrize(
    "document",
    [
        "<QuestionForm/>",
        FORM.replace("2017-11-06", "2099-01-01"),
        f'<ExternalQuestion xmlns="{NS}2006-07-14/ExternalQuestion.xsd"><ExternalURL>http://example.com/</ExternalURL>'
        "<FrameHeight>0</FrameHeight></ExternalQuestion>",
        f'<ExternalQuestion xmlns="{NS}2006-07-14/ExternalQuestion.xsd"><ExternalURL>https://example.com/</ExternalURL>'
        "<FrameHeight>tall</FrameHeight></ExternalQuestion>",
        f'<ExternalQuestion xmlns="{NS}2006-07-14/ExternalQuestion.xsd"><ExternalURL>https://example.com/</ExternalURL>'
        "<FrameHeight>\u00b2</FrameHeight></ExternalQuestion>",
        f'<ExternalQuestion xmlns="{NS}2006-07-14/ExternalQuestion.xsd"><ExternalURL>https://example.com/</ExternalURL>'
        f"<FrameHeight>{'9' * 5000}</FrameHeight></ExternalQuestion>",
        '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
        FORM.replace("</Question></QuestionForm>", "</Question>" + FORM[FORM.index("<Question>") :]),
    ],
)
def test_bad_questions_are_xml_parse_errors(document: str) -> None:
    with pytest.raises(XMLParseError):
        questions.parse_question(document)


def test_loopback_http_external_url_is_allowed_for_local_testing() -> None:
    doc = (
        f'<ExternalQuestion xmlns="{NS}2006-07-14/ExternalQuestion.xsd"><ExternalURL>http://127.0.0.1:5000/t'
        "</ExternalURL><FrameHeight>0</FrameHeight></ExternalQuestion>"
    )
    assert questions.parse_question(doc).external_url == "http://127.0.0.1:5000/t"


def test_plain_http_on_ipv6_loopback_is_refused_as_no_page_can_frame_it() -> None:
    def doc(url: str) -> str:
        return (
            f'<ExternalQuestion xmlns="{NS}2006-07-14/ExternalQuestion.xsd"><ExternalURL>{url}'
            "</ExternalURL><FrameHeight>0</FrameHeight></ExternalQuestion>"
        )

    with pytest.raises(XMLParseError, match=r"127\.0\.0\.1 or localhost"):
        questions.parse_question(doc("http://[::1]:5000/t"))
    assert questions.parse_question(doc("https://[::1]:5000/t")).external_url == "https://[::1]:5000/t"


@given(st.lists(st.tuples(st.text(min_size=1), st.one_of(st.text(), st.lists(st.text())))))
def test_answers_document_round_trips_any_text(fields: list[tuple[str, object]]) -> None:
    document = answers.answers_document(fields)
    document.encode("ascii")
    root = ET.fromstring(document.encode("ascii"))
    parsed = []
    for answer in root:
        identifier = answer.find(f"{{{answers.NAMESPACE}}}QuestionIdentifier")
        free = answer.find(f"{{{answers.NAMESPACE}}}FreeText")
        selections = answer.findall(f"{{{answers.NAMESPACE}}}SelectionIdentifier")
        value: object = (free.text or "") if free is not None else [s.text or "" for s in selections]
        parsed.append(((identifier.text or "") if identifier is not None else "", value))

    def clean(value: object) -> object:
        return answers.xml_text(value) if isinstance(value, str) else [answers.xml_text(v) for v in value]  # type: ignore[union-attr]

    assert parsed == [(answers.xml_text(i), clean(v)) for i, v in fields]


@pytest.mark.parametrize(("text", "cents"), [("5", 500), ("0.5", 50), ("0.50", 50), ("12.", 1200), ("0.01", 1)])
def test_amounts(text: str, cents: int) -> None:
    assert money.parse_amount(text, "Reward") == cents
    assert money.parse_amount(money.format_amount(cents), "Reward") == cents


@pytest.mark.parametrize("text", ["", "abc", "1.234", "-1", "1e3", " 1", "0.50\n"])
def test_bad_amounts_name_the_field(text: str) -> None:
    with pytest.raises(InvalidParameterValue, match="Reward"):
        money.parse_amount(text, "Reward")


def test_fees() -> None:
    assert money.assignment_fee(100, 9) == 20
    assert money.assignment_fee(100, 10) == 40
    assert money.assignment_fee(1, 1) == 1
    assert money.bonus_fee(250) == 50


def test_fees_round_half_up_with_a_cent_at_least() -> None:
    assert money.assignment_fee(52, 1) == 10  # 10.4
    assert money.assignment_fee(13, 1) == 3  # 2.6
    assert money.assignment_fee(7, 1) == 1  # 1.4
    assert money.assignment_fee(2, 1) == 1  # 0.4: the minimum
    assert money.assignment_fee(10, 1, masters=True) == 3  # 2.5: half rounds up
    assert money.bonus_fee(52) == 10 and money.bonus_fee(53) == 11


def test_the_masters_fee_is_5_percent_more_of_the_reward() -> None:
    assert money.assignment_fee(100, 1, masters=True) == 25
    assert money.assignment_fee(100, 10, masters=True) == 45
