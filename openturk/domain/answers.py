"""Build the ``QuestionFormAnswers`` document MTurk returned in ``Assignment.Answer``.

Format from MTurk's 2005-10-01 schema and the Requester Guide: an ASCII XML header, one
``<Answer>`` per field (repeated names give one Answer per value, in order: DECISION), non-ASCII
characters as character references.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from xml.sax.saxutils import escape

NAMESPACE = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"


# Characters XML 1.0 cannot carry at all, even as references: dropped (DECISION).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(text: str) -> str:
    """What survives of ``text`` in an XML document."""
    return _NOT_XML.sub("", text)


def _element(name: str, text: str) -> str:
    # A carriage return is written as a reference so parsers do not fold it into a newline.
    return f"<{name}>{escape(xml_text(text), {chr(13): '&#13;'})}</{name}>"


def _answer(identifier: str, value: Any) -> str:
    """One Answer: a string is FreeText; a list is SelectionIdentifiers; a dict names its parts."""
    parts = [_element("QuestionIdentifier", identifier)]
    if isinstance(value, str):
        parts.append(_element("FreeText", value))
    elif isinstance(value, list):
        parts.extend(_element("SelectionIdentifier", str(item)) for item in value)
    elif isinstance(value, Mapping):
        parts.extend(_element("SelectionIdentifier", str(item)) for item in value.get("SelectionIdentifiers", []))
        if "OtherSelectionText" in value:
            parts.append(_element("OtherSelectionText", str(value["OtherSelectionText"])))
        if "FreeText" in value:
            parts.append(_element("FreeText", str(value["FreeText"])))
        if "UploadedFileKey" in value:
            parts.append(_element("UploadedFileSizeInBytes", str(int(value.get("UploadedFileSizeInBytes", 0)))))
            parts.append(_element("UploadedFileKey", str(value["UploadedFileKey"])))
    else:
        parts.append(_element("FreeText", str(value)))
    return "<Answer>" + "".join(parts) + "</Answer>"


def answers_document(fields: Iterable[tuple[str, Any]]) -> str:
    """The QuestionFormAnswers XML for (identifier, value) pairs, in the order given."""
    body = "".join(_answer(identifier, value) for identifier, value in fields)
    document = (
        f'<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns="{NAMESPACE}">{body}</QuestionFormAnswers>'
    )
    return document.encode("ascii", "xmlcharrefreplace").decode("ascii")


_TEXT_PARTS = ("OtherSelectionText", "FreeText", "UploadedFileKey")
_PARTS = {"SelectionIdentifiers", "UploadedFileSizeInBytes", *_TEXT_PARTS}
_KINDS = {
    "SelectionIdentifiers": ("SelectionIdentifiers", "OtherSelectionText"),
    "FreeText": ("FreeText",),
    "UploadedFileKey": ("UploadedFileKey", "UploadedFileSizeInBytes"),
}


def value_problem(identifier: str, value: Any) -> str | None:
    """Why the worker API cannot take ``value`` as the answer ``identifier``, naming the field;
    None when it can: a string, a list of strings, or an object of QuestionFormAnswers parts."""
    field = f"Answers.{identifier}"
    if isinstance(value, str):
        return None
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return None
        return f"{field} must be a string or a list of strings."
    if not isinstance(value, Mapping):
        return f"{field} must be a string, a list of strings or an object."
    unknown = sorted(str(key) for key in value if key not in _PARTS)
    if unknown:
        return f"{field} has unknown parts {', '.join(unknown)}; allowed: {', '.join(sorted(_PARTS))}."
    selections = value.get("SelectionIdentifiers", [])
    if not isinstance(selections, list) or not all(isinstance(item, str) for item in selections):
        return f"{field}.SelectionIdentifiers must be a list of strings."
    for part in _TEXT_PARTS:
        if part in value and not isinstance(value[part], str):
            return f"{field}.{part} must be a string."
    size = value.get("UploadedFileSizeInBytes", 0)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        return f"{field}.UploadedFileSizeInBytes must be a whole number of bytes."
    # QuestionFormAnswers' Answer holds one kind: selections (and their other text), or FreeText,
    # or an uploaded file (its key; the size is the server's).
    kinds = [kind for kind, parts in _KINDS.items() if any(part in value for part in parts)]
    if len(kinds) > 1:
        return f"{field} gives {' and '.join(kinds)}; an answer is one of selections, FreeText or an uploaded file."
    if "UploadedFileSizeInBytes" in value and "UploadedFileKey" not in value:
        return f"{field}.UploadedFileSizeInBytes needs its UploadedFileKey."
    return None
