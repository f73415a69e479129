"""AnswerFormatRegex as MTurk's worker site ran it: a JavaScript ``RegExp`` tested against the answer.

Python's ``re`` reads most JavaScript patterns the same way; where the two differ in what they
accept, the pattern is rewritten so the server is never more lenient than the browser:
``$`` without the ``m`` flag is the end of the input only (Python's also matches before a final
newline), and ``\\d``/``\\w`` are ASCII only, as in JavaScript. Flags: MTurk documents ``i``;
``m`` and ``s`` mean what they mean in JavaScript; ``g`` and ``u`` change nothing a single test sees.

The requester writes the pattern and the worker the answer, so a backtracking pattern such as
``^(a|a)*$`` could pin a CPU on a long answer (ReDoS). Python's ``re`` can be neither interrupted nor
bounded, so the syntax is checked with ``re`` (what it refuses, the form refuses) and the match runs in
the ``regex`` engine in its ``re``-compatible VERSION0 with a time limit: ``test`` raises
``TimeoutError`` after about ``MATCH_SECONDS`` (the engine checks its clock every so many steps, so a
refusal can take a few times that), and releases the GIL while it matches.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import regex

FLAGS = frozenset("imsgu")
MATCH_SECONDS = 0.1
# A JavaScript quantifier in braces; any other "{" is a literal there (and "{,3}" is one in Python's re,
# while the regex engine reads "{e<=1}" as fuzzy matching): such braces are escaped.
_QUANTIFIER = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
_CLASS_ESCAPES = {"d": "0-9", "w": "A-Za-z0-9_"}
_ESCAPES = {"d": "[0-9]", "D": "[^0-9]", "w": "[A-Za-z0-9_]", "W": "[^A-Za-z0-9_]"}


def translate(pattern: str, multiline: bool) -> str:
    """The Python pattern that accepts what the JavaScript one accepts."""
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            table = _CLASS_ESCAPES if in_class else _ESCAPES
            out.append(table.get(escaped, char + escaped))
            index += 2
            continue
        if in_class:
            in_class = char != "]"
            # "[" in a class is a literal in JavaScript and re; the regex engine would read "[[:alpha:]]"
            # as a POSIX class.
            char = "\\[" if char == "[" else char
        elif char == "{" and not _QUANTIFIER.match(pattern, index):
            char = "\\{"
        elif char == "[":
            in_class = True
            if pattern.startswith("[^]", index) or pattern.startswith("[]", index):
                raise re.error("an empty character class reads differently in JavaScript", pattern, index)
        elif char == "$" and not multiline:
            char = r"\Z"
        out.append(char)
        index += 1
    return "".join(out)


@lru_cache(maxsize=256)
def compile_regex(pattern: str, flags: str) -> Any:
    """The compiled pattern (a ``regex`` pattern object); ``re.error`` when Python's ``re`` cannot read
    it, ``ValueError`` for unknown flags."""
    if set(flags) - FLAGS or len(set(flags)) != len(flags):
        raise ValueError(f"flags may be {', '.join(sorted(FLAGS))}, each once, not {flags[:16]!r}")
    bits = (re.IGNORECASE if "i" in flags else 0) | (re.MULTILINE if "m" in flags else 0)
    bits |= re.DOTALL if "s" in flags else 0
    translated = translate(pattern, "m" in flags)
    re.compile(translated, bits)
    # re's flag bits have the same values in regex
    return regex.compile(translated, bits | regex.VERSION0)


def test(pattern: str, flags: str, value: str) -> bool:
    """JavaScript's ``new RegExp(pattern, flags).test(value)``; ``TimeoutError`` when the match runs
    past ``MATCH_SECONDS``."""
    return compile_regex(pattern, flags).search(value, timeout=MATCH_SECONDS, concurrent=True) is not None


# Regex text that means the same in Python's re and JavaScript's RegExp with the v flag (which HTML
# pattern uses): no Python-only syntax, and character classes of plain letters, digits and escapes.
_READS_ALIKE = re.compile(
    r"(?:[^\[\]\\(]|\\[dDwWsSbB.\\^$*+?(){}|/]|\((?!\?)|\[\^?(?:[A-Za-z0-9_ ]|\\[dws.\-])+"
    r"(?:-[A-Za-z0-9])?(?:[A-Za-z0-9_ ]|\\[dws.\-]|[A-Za-z0-9]-[A-Za-z0-9])*\])*"
)


def reads_alike_in_html(pattern: str) -> bool:
    """Whether an HTML ``pattern`` attribute (JavaScript with the ``v`` flag) reads ``pattern`` as
    this module does: only the plainest syntax qualifies."""
    return _READS_ALIKE.fullmatch(pattern) is not None
