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


def is_valid_value(value: Any) -> bool:
    """Values the worker API accepts for one answer field."""
    if isinstance(value, str):
        return True
    if isinstance(value, list):
        return all(isinstance(item, str) for item in value)
    if isinstance(value, Mapping):
        known = {"SelectionIdentifiers", "OtherSelectionText", "FreeText", "UploadedFileKey", "UploadedFileSizeInBytes"}
        return set(value) <= known
    return False
