"""AnswerFormatRegex is read as JavaScript reads it: the server is never more lenient than the browser."""

from __future__ import annotations

import re
import time

import pytest

from openturk.domain.questionform import jsregex


@pytest.mark.parametrize(
    ("pattern", "flags", "value", "matches"),
    [
        ("^[A-Z]{3}$", "", "ABC", True),
        ("^[A-Z]{3}$", "", "ABC\n", False),  # Python's $ alone would take the final newline
        ("^b$", "m", "a\nb\nc", True),
        ("^\\d+$", "", "123", True),
        ("^\\d+$", "", "١٢٣", False),  # Arabic-Indic digits: \d is ASCII in JavaScript
        ("^[\\d.]+$", "", "1.5", True),
        ("^[\\d]+$", "", "١", False),
        ("^\\w+$", "", "héllo", False),
        ("^\\W$", "", "é", True),
        ("\\$", "", "a$", True),  # an escaped dollar is a dollar
        ("[$]", "", "$", True),
        ("regex", "i", "RegExes", True),
        ("^a.b$", "s", "a\nb", True),
        ("^a.b$", "", "a\nb", False),
        ("cat", "g", "a cat", True),
        ("^a{,3}$", "", "a{,3}", True),  # not a quantifier in JavaScript: literal braces
        ("^a{,3}$", "", "aa", False),
        ("^x{e<=1}$", "", "y", False),  # literal too (the regex engine would read fuzzy matching)
        ("^x{2,}$", "", "xxx", True),
        ("^[[:alpha:]]$", "", ":]", True),  # the class [[:alph] then "]", as JavaScript reads it
        ("^[[:alpha:]]$", "", "b", False),
    ],
)
def test_patterns_match_as_in_javascript(pattern: str, flags: str, value: str, matches: bool) -> None:
    assert jsregex.test(pattern, flags, value) is matches


@pytest.mark.parametrize(("pattern", "flags"), [("(", ""), ("[^]", ""), ("a", "x"), ("a", "ii")])
def test_what_javascript_and_python_read_differently_is_refused(pattern: str, flags: str) -> None:
    with pytest.raises((re.error, ValueError)):
        jsregex.compile_regex(pattern, flags)


def test_a_backtracking_match_stops_at_its_time_limit() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        jsregex.test("^(a|a)*$", "", "a" * 40 + "b")  # 2**41 paths for a backtracking engine
    assert time.monotonic() - started < 20 * jsregex.MATCH_SECONDS
    assert jsregex.test("^(a|a)*$", "", "a" * 40)  # a match found at once is not cut off
