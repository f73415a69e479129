"""Parse ``QuestionFormAnswers`` XML, which botocore hands over as an unparsed string.

``FreeText`` → str; ``SelectionIdentifier``s → list[str] (always a list); ``OtherSelectionText``
alone → str; ``UploadedFileKey``/``UploadedFileSizeInBytes`` → ``UploadedFile``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NAMESPACE = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"


@dataclass(frozen=True)
class UploadedFile:
    key: str
    size_in_bytes: int


Value = str | list[str] | UploadedFile


def parse_answers(assignment_or_xml: str | Mapping[str, Any]) -> dict[str, Value]:
    """``{QuestionIdentifier: value}`` from an assignment (its ``Answer``) or the XML itself.

    DECISION: an Answer with both selections and ``OtherSelectionText`` gives the list of
    selections with the other text last; identifiers repeated across Answers (several form fields
    of one name, as ``/mturk/externalSubmit`` records them) collect into one list in order.
    """
    xml = assignment_or_xml.get("Answer", "") if isinstance(assignment_or_xml, Mapping) else assignment_or_xml
    if not xml:
        return {}
    root = ET.fromstring(xml.encode() if isinstance(xml, str) else xml)
    answers: dict[str, Value] = {}
    for answer in root:
        if _local(answer.tag) != "Answer":
            continue
        identifier, value = _answer(answer)
        if identifier in answers:
            previous = answers[identifier]
            merged = previous if isinstance(previous, list) else [str(previous)]
            merged = merged + (value if isinstance(value, list) else [str(value)])
            answers[identifier] = merged
        else:
            answers[identifier] = value
    return answers


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _answer(answer: ET.Element) -> tuple[str, Value]:
    parts: dict[str, list[str]] = {}
    for child in answer:
        parts.setdefault(_local(child.tag), []).append(child.text or "")
    identifier = (parts.get("QuestionIdentifier") or [""])[0]
    if "UploadedFileKey" in parts:
        size = (parts.get("UploadedFileSizeInBytes") or ["0"])[0]
        return identifier, UploadedFile(parts["UploadedFileKey"][0], int(size or 0))
    if "SelectionIdentifier" in parts:
        return identifier, parts["SelectionIdentifier"] + parts.get("OtherSelectionText", [])
    if "OtherSelectionText" in parts:
        return identifier, parts["OtherSelectionText"][0]
    return identifier, (parts.get("FreeText") or [""])[0]
