"""A qualification test's AnswerKey (MTurk's 2005-10-01 AnswerKey schema) and the score it gives.

Each ``Question`` of the key lists ``AnswerOption``s: one or more ``SelectionIdentifier``s and an
``AnswerScore``. A worker's answer to that question scores the option whose identifiers equal the
worker's selections (as a set; a free-text answer counts as one selection), else the question's
``DefaultScore`` (0 if absent); scores are ``xs:int``. The summed score becomes the qualification value through the
optional ``QualificationValueMapping``: ``PercentageMapping`` (sum · 100 // MaximumSummedScore,
DECISION: rounded down), ``ScaleMapping`` (sum · SummedScoreMultiplier, rounded down) or
``RangeMapping`` (the ``QualificationValue`` of the first ``SummedScoreRange`` holding the sum, else
``OutOfRangeQualificationValue``); without one the value is the sum. A key whose scores could map to
a value beyond the 32 bits a qualification value has is refused when it is given, not when a worker
earns it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from openturk import digits
from openturk.digits import INT32_MAX, INT32_MIN
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
    multiplier: Decimal | None = None
    ranges: tuple[tuple[int, int, int], ...] = field(default=())
    out_of_range: int | None = None


def _int(element: Element | None, name: str) -> int:
    if element is None or element.text is None:
        raise XMLParseError(f"AnswerKey: {name} is missing.")
    number = digits.xs_int(element.text)
    if number is None:
        raise XMLParseError(
            f"AnswerKey: {name} must be a whole number from {INT32_MIN} to {INT32_MAX}, "
            f"not {element.text.strip()[:32]!r}."
        )
    return number


def _multiplier(text: str) -> Decimal:
    """SummedScoreMultiplier: a finite decimal number (exact, so 50 × 0.58 is 29, not 28.999…)."""
    try:
        number = Decimal(text.strip()) if len(text) <= 64 else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or abs(number) > INT32_MAX:
        raise XMLParseError(
            f"AnswerKey: SummedScoreMultiplier must be a number from {-INT32_MAX} to {INT32_MAX}, "
            f"not {text.strip()[:32]!r}."
        )
    return number


@lru_cache(maxsize=64)
def parse(document: str) -> AnswerKey:
    """Parse and check an AnswerKey; raise ``XMLParseError`` naming what is wrong, including a key
    whose scores could map to a value no qualification holds (beyond 32 bits)."""
    key = _parse(document)
    low, high = _value_bounds(key)
    if low < INT32_MIN or high > INT32_MAX:
        raise XMLParseError(
            f"AnswerKey: its scores can give a qualification value from {low} to {high}; "
            f"a qualification value is from {INT32_MIN} to {INT32_MAX}."
        )
    return key


def _parse(document: str) -> AnswerKey:
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
        return AnswerKey(tuple(questions), multiplier=_multiplier(scale.findtext(f"{_NS}SummedScoreMultiplier") or ""))
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
    return qualification_value_of_sum(key, summed_score(key, answers))


def qualification_value_of_sum(key: AnswerKey, total: int) -> int:
    """The qualification value a summed score maps to."""
    if key.percentage_of is not None:
        return total * 100 // key.percentage_of
    if key.multiplier is not None:
        return math.floor(total * key.multiplier)
    if key.out_of_range is not None:
        return next((value for low, high, value in key.ranges if low <= total <= high), key.out_of_range)
    return total


def _value_bounds(key: AnswerKey) -> tuple[int, int]:
    """The lowest and highest qualification value any answers can earn under ``key``."""
    low = high = 0
    for question in key.questions:
        scores = [score for _, score in question.options] + [question.default_score]
        low, high = low + min(scores), high + max(scores)
    if key.out_of_range is not None:
        values = [value for _, _, value in key.ranges] + [key.out_of_range]
        return min(values), max(values)
    # Every other mapping is monotonic in the summed score: its extremes come from the sum's.
    ends = (qualification_value_of_sum(key, low), qualification_value_of_sum(key, high))
    return min(ends), max(ends)
