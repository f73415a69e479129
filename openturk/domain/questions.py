"""Validate a HIT's Question document: HTMLQuestion, ExternalQuestion or QuestionForm.

MTurk rejected anything else with ``AWS.MechanicalTurk.XMLParseError``. The namespace must be
exactly the schema URL MTurk published. DTDs and entities are refused (defusedxml).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from openturk import digits
from openturk.domain.questionform import reader as questionform_reader
from openturk.domain.questionform.model import FileUpload, QuestionForm
from openturk.errors import XMLParseError

MAX_QUESTION_BYTES = 65535
_SCHEMAS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/"
HTML_QUESTION_NAMESPACE = f"{_SCHEMAS}2011-11-11/HTMLQuestion.xsd"
NAMESPACES = {
    HTML_QUESTION_NAMESPACE: "HTMLQuestion",
    f"{_SCHEMAS}2006-07-14/ExternalQuestion.xsd": "ExternalQuestion",
    f"{_SCHEMAS}2017-11-06/QuestionForm.xsd": "QuestionForm",
    f"{_SCHEMAS}2005-10-01/QuestionForm.xsd": "QuestionForm",
}
# Not ::1: a page's Content-Security-Policy cannot name an IPv6 address (browsers ignore
# "http://[::1]:*" as an invalid source), so the worker site could not frame such a page.
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1"}


@dataclass(frozen=True)
class Question:
    kind: str  # HTMLQuestion | ExternalQuestion | QuestionForm
    frame_height: int | None = None
    html: str | None = None
    external_url: str | None = None
    # QuestionForm: identifier → "free" | "selection" | "upload"
    answer_kinds: tuple[tuple[str, str], ...] = ()
    # FileUploadAnswer: identifier → (MinFileSizeInBytes, MaxFileSizeInBytes)
    upload_bounds: tuple[tuple[str, int, int], ...] = ()
    # QuestionForm: what the worker site shows (read once, here, so a form it could not show is refused)
    form: QuestionForm | None = None


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


# Batches post the same Question over and over (psiTurk, Dallinger and Mephisto use one ExternalQuestion
# URL for every HIT), and parsing is a tenth of a CreateHIT's CPU: remember recent good ones. Questions are
# at most 64 KB, so this holds at most 4 MB; bad documents raise and are not remembered.
@lru_cache(maxsize=64)
def parse_question(document: str) -> Question:
    """Parse and check a Question; raise ``XMLParseError`` naming what is wrong."""
    if len(document.encode("utf-8")) > MAX_QUESTION_BYTES:
        raise XMLParseError(f"Question must be at most {MAX_QUESTION_BYTES} bytes.")
    try:
        root = SafeET.fromstring(document)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise XMLParseError(
            f"There was an error parsing the XML question or answer data in your request: {exc}"
        ) from exc
    namespace, name = _local(root.tag)
    if NAMESPACES.get(namespace) != name:
        raise XMLParseError(
            f"Question root element {name!r} with namespace {namespace!r} is not one of HTMLQuestion, "
            "ExternalQuestion or QuestionForm with MTurk's schema namespace."
        )
    if name == "HTMLQuestion":
        return _html_question(root, namespace)
    if name == "ExternalQuestion":
        return _external_question(root, namespace)
    return _question_form(root)


def _child_text(root: Element, namespace: str, name: str) -> str:
    child = root.find(f"{{{namespace}}}{name}")
    if child is None or child.text is None or not child.text.strip():
        raise XMLParseError(f"{_local(root.tag)[1]} requires a non-empty {name} element.")
    return child.text


def _frame_height(root: Element, namespace: str) -> int:
    text = _child_text(root, namespace, "FrameHeight").strip()
    height = digits.non_negative(text)
    if height is None:
        raise XMLParseError(f"FrameHeight must be a non-negative integer, not {text[:32]!r}.")
    return height


def _html_question(root: Element, namespace: str) -> Question:
    html = _child_text(root, namespace, "HTMLContent")
    if not html.lstrip().lower().startswith("<!doctype html>"):
        raise XMLParseError("HTMLContent must be an HTML5 document starting with <!DOCTYPE html>.")
    return Question("HTMLQuestion", frame_height=_frame_height(root, namespace), html=html)


def _external_question(root: Element, namespace: str) -> Question:
    url = _child_text(root, namespace, "ExternalURL").strip()
    parts = urlsplit(url)
    # DECISION: MTurk required HTTPS; plain HTTP is allowed for loopback hosts, for local testing.
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS)
    if not secure or not parts.hostname:
        raise XMLParseError(
            f"ExternalURL must be an HTTPS URL (plain HTTP only on 127.0.0.1 or localhost), not {url[:128]!r}."
        )
    return Question("ExternalQuestion", frame_height=_frame_height(root, namespace), external_url=url)


def _question_form(root: Element) -> Question:
    form = questionform_reader.read(root)
    return Question(
        "QuestionForm",
        answer_kinds=tuple((q.identifier, q.answer.kind) for q in form.questions),
        upload_bounds=tuple(
            (q.identifier, q.answer.min_bytes, q.answer.max_bytes)
            for q in form.questions
            if isinstance(q.answer, FileUpload)
        ),
        form=form,
    )
