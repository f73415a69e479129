"""The server's check of a submitted QuestionForm: every constraint again, whatever the browser did.

``submitted`` is the posted form as field name → values (Starlette's ``FormData.getlist``); each
question's control is named by its QuestionIdentifier and an OtherSelection's text by
``Selection.other_field``. Files are uploaded by the site first (``openturk.workers.uploads``);
``files`` gives each FileUploadAnswer question's stored key and size.

The answers are ``(QuestionIdentifier, value)`` pairs in the form's order, in the shape
``openturk.workers.actions.submit`` and ``openturk.workers.qualifications.request`` take: a string
(FreeText), a list of SelectionIdentifiers, ``{"SelectionIdentifiers": [...], "OtherSelectionText":
...}``, or ``{"UploadedFileKey": ..., "UploadedFileSizeInBytes": ...}``. DECISION: a question left
unanswered (allowed when IsRequired is false) has no Answer element.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openturk.domain import uploads
from openturk.domain.questionform.model import FileUpload, FreeText, Question, QuestionForm, Selection

# What an HTML number input sends: a decimal, optionally with an exponent.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
INVALID_INPUT = "Invalid input supplied."  # MTurk's message for a failed AnswerFormatRegex without errorText
TOO_SLOW = "This answer could not be checked against the question's format in time; try a shorter answer."


@dataclass(frozen=True)
class UploadedFile:
    file_key: str
    size: int


Answers = list[tuple[str, Any]]
Errors = dict[str, str]


def validate(
    form: QuestionForm, submitted: Mapping[str, Sequence[str]], files: Mapping[str, UploadedFile] | None = None
) -> tuple[Answers, Errors]:
    """The answers, and the errors by QuestionIdentifier (empty when the submission is good).
    Fields that name no question (the site's CSRF token, for example) are ignored."""
    answers: Answers = []
    errors: Errors = {}
    for question in form.questions:
        value, error = _answer(question, submitted, files or {})
        if error is not None:
            errors[question.identifier] = error
        elif value is not None:
            answers.append((question.identifier, value))
    return answers, errors


def _answer(
    question: Question, submitted: Mapping[str, Sequence[str]], files: Mapping[str, UploadedFile]
) -> tuple[Any, str | None]:
    spec = question.answer
    if isinstance(spec, FreeText):
        values = list(submitted.get(question.identifier, ()))
        if len(values) > 1:
            return None, "Send one answer to this question."
        text = values[0] if values else ""
        if text == "" and question.required:
            return None, "This question requires an answer."
        problem = free_text_problem(spec, text)
        if problem is not None:
            return None, problem
        return (text if text != "" else None), None
    if isinstance(spec, Selection):
        return _selection(question, spec, submitted)
    return _upload(question, spec, files.get(question.identifier))


def free_text_problem(spec: FreeText, text: str) -> str | None:
    """Why ``text`` does not meet the FreeTextAnswer's Constraints; None when it does. Lengths count
    characters (code points), spaces included. An empty answer to a question that is not required
    meets every constraint but AnswerFormatRegex, which MTurk tested on empty answers too (its
    documented way to allow an empty answer is ``(^$|...)``). An answer the requester's regex cannot
    decide within ``jsregex.MATCH_SECONDS`` is refused (ReDoS: see ``jsregex``)."""
    if text != "":
        problem = _numeric_or_length_problem(spec, text)
        if problem is not None:
            return problem
    for regex in spec.regexes:
        try:
            matches = regex.matches(text)
        except TimeoutError:
            return TOO_SLOW
        if not matches:
            return regex.error_text or INVALID_INPUT
    return None


def _numeric_or_length_problem(spec: FreeText, text: str) -> str | None:
    if spec.numeric:
        if not _NUMBER.fullmatch(text.strip()):
            return "Enter a number."
        number = Decimal(text.strip())
        if spec.min_value is not None and number < spec.min_value:
            return f"Enter a number of at least {spec.min_value}."
        if spec.max_value is not None and number > spec.max_value:
            return f"Enter a number of at most {spec.max_value}."
    if spec.min_length is not None and len(text) < spec.min_length:
        return f"Enter at least {spec.min_length} characters (you entered {len(text)})."
    if spec.max_length is not None and len(text) > spec.max_length:
        return f"Enter at most {spec.max_length} characters (you entered {len(text)})."
    return None


def _selection(question: Question, spec: Selection, submitted: Mapping[str, Sequence[str]]) -> tuple[Any, str | None]:
    given = set(submitted.get(question.identifier, ())) - {""}  # "" is a dropdown's "Choose…" placeholder
    known = {choice.identifier for choice in spec.choices}
    unknown = given - known - ({spec.other_value} if spec.other is not None else set())
    if unknown:
        return None, "Choose only from the choices offered."
    other_values = list(submitted.get(spec.other_field, ())) if spec.other is not None else []
    if len(other_values) > 1:
        return None, "Send one 'Other' answer."
    other_text = other_values[0] if other_values else ""
    # Typing an "Other" answer chooses Other, as it reads on the page.
    other_chosen = spec.other is not None and (spec.other_value in given or bool(other_text.strip()))
    chosen = [choice.identifier for choice in spec.choices if choice.identifier in given]
    count = len(chosen) + other_chosen
    if count == 0:
        return None, ("This question requires an answer." if question.required else None)
    if count < spec.min_count or count > spec.max_count:
        return None, spec.hint
    if not other_chosen:
        return chosen, None
    assert spec.other is not None
    if not other_text.strip():
        return None, "Type your 'Other' answer, or choose another option."
    problem = free_text_problem(spec.other, other_text)
    if problem is not None:
        return None, f"Other: {problem}"
    return {"SelectionIdentifiers": chosen, "OtherSelectionText": other_text}, None


def _upload(question: Question, spec: FileUpload, found: UploadedFile | None) -> tuple[Any, str | None]:
    if found is None:
        return None, ("This question requires a file." if question.required else None)
    problem = uploads.size_problem(found.size, spec.min_bytes, spec.max_bytes)
    if problem is not None:
        return None, problem
    return {"UploadedFileKey": found.file_key, "UploadedFileSizeInBytes": found.size}, None
