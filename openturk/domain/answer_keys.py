"""A qualification test's AnswerKey (MTurk's 2005-10-01 AnswerKey schema) and the score it gives.

Each ``Question`` of the key lists ``AnswerOption``s: one or more ``SelectionIdentifier``s and an
``AnswerScore``. A worker's answer to that question scores the option whose identifiers equal the
worker's selections (as a set; a free-text answer counts as one selection), else the question's
``DefaultScore`` (0 if absent). The summed score becomes the qualification value through the
optional ``QualificationValueMapping``: ``PercentageMapping`` (sum · 100 // MaximumSummedScore,
DECISION: rounded down), ``ScaleMapping`` (sum · SummedScoreMultiplier, rounded down) or
``RangeMapping`` (the ``QualificationValue`` of the first ``SummedScoreRange`` holding the sum, else
``OutOfRangeQualificationValue``); without one the value is the sum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from openturk.errors import XMLParseError

NAMESPACE = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/AnswerKey.xsd"
_NS = f"{{{NAMESPACE}}}"


@dataclass(frozen=True)
class KeyQuestion:
    identifier: str
    options: tuple[tuple[frozenset[str], int], ...]
    default_score: int = 0


@dataclass(frozen=True)
class AnswerKey:
    questions: tuple[KeyQuestion, ...]
    percentage_of: int | None = None
    multiplier: float | None = None
    ranges: tuple[tuple[int, int, int], ...] = field(default=())
    out_of_range: int | None = None


def _int(element: Element | None, name: str) -> int:
    if element is None or element.text is None:
        raise XMLParseError(f"AnswerKey: {name} is missing.")
    try:
        return int(element.text.strip())
    except ValueError as exc:
        raise XMLParseError(f"AnswerKey: {name} must be a whole number, not {element.text.strip()[:32]!r}.") from exc


@lru_cache(maxsize=64)
def parse(document: str) -> AnswerKey:
    """Parse and check an AnswerKey; raise ``XMLParseError`` naming what is wrong."""
    try:
        root = SafeET.fromstring(document)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise XMLParseError(f"There was an error parsing the AnswerKey in your request: {exc}") from exc
    if root.tag != f"{_NS}AnswerKey":
        raise XMLParseError(f"AnswerKey's root element must be AnswerKey in the namespace {NAMESPACE}.")
    questions = []
    for question in root.findall(f"{_NS}Question"):
        identifier = question.findtext(f"{_NS}QuestionIdentifier")
        if not identifier:
            raise XMLParseError("AnswerKey: every Question needs a QuestionIdentifier.")
        options = []
        for option in question.findall(f"{_NS}AnswerOption"):
            selections = frozenset((s.text or "").strip() for s in option.findall(f"{_NS}SelectionIdentifier"))
            if not selections:
                raise XMLParseError(f"AnswerKey: an AnswerOption of {identifier} has no SelectionIdentifier.")
            options.append((selections, _int(option.find(f"{_NS}AnswerScore"), "AnswerScore")))
        default = question.find(f"{_NS}DefaultScore")
        questions.append(
            KeyQuestion(identifier.strip(), tuple(options), 0 if default is None else _int(default, "DefaultScore"))
        )
    mapping = root.find(f"{_NS}QualificationValueMapping")
    if mapping is None:
        return AnswerKey(tuple(questions))
    percentage = mapping.find(f"{_NS}PercentageMapping")
    if percentage is not None:
        maximum = _int(percentage.find(f"{_NS}MaximumSummedScore"), "MaximumSummedScore")
        if maximum <= 0:
            raise XMLParseError("AnswerKey: MaximumSummedScore must be positive.")
        return AnswerKey(tuple(questions), percentage_of=maximum)
    scale = mapping.find(f"{_NS}ScaleMapping")
    if scale is not None:
        text = (scale.findtext(f"{_NS}SummedScoreMultiplier") or "").strip()
        try:
            return AnswerKey(tuple(questions), multiplier=float(text))
        except ValueError as exc:
            raise XMLParseError("AnswerKey: SummedScoreMultiplier must be a number.") from exc
    ranges = mapping.find(f"{_NS}RangeMapping")
    if ranges is None:
        raise XMLParseError("AnswerKey: QualificationValueMapping needs a Percentage, Scale or RangeMapping.")
    bounds = tuple(
        (
            _int(r.find(f"{_NS}InclusiveLowerBound"), "InclusiveLowerBound"),
            _int(r.find(f"{_NS}InclusiveUpperBound"), "InclusiveUpperBound"),
            _int(r.find(f"{_NS}QualificationValue"), "QualificationValue"),
        )
        for r in ranges.findall(f"{_NS}SummedScoreRange")
    )
    out = _int(ranges.find(f"{_NS}OutOfRangeQualificationValue"), "OutOfRangeQualificationValue")
    return AnswerKey(tuple(questions), ranges=bounds, out_of_range=out)


def summed_score(key: AnswerKey, answers: Mapping[str, Sequence[str]]) -> int:
    total = 0
    for question in key.questions:
        given = frozenset(value.strip() for value in answers.get(question.identifier, ()))
        total += next((score for selections, score in question.options if selections == given), question.default_score)
    return total


def qualification_value(key: AnswerKey, answers: Mapping[str, Sequence[str]]) -> int:
    """The value a worker's answers earn (see the module's docstring)."""
    total = summed_score(key, answers)
    if key.percentage_of is not None:
        return total * 100 // key.percentage_of
    if key.multiplier is not None:
        return int(total * key.multiplier)
    if key.out_of_range is not None:
        return next((value for low, high, value in key.ranges if low <= total <= high), key.out_of_range)
    return total
