"""QuestionForm for the worker site: a render model, its accessible HTML, and the server's check.

``parse(document)`` → ``QuestionForm``; ``render(form, action, values, errors)`` → HTML;
``validate(form, submitted, files)`` → (answers, errors). No HTTP here: the site's pages call these,
for HITs and for qualification tests alike.
"""

from __future__ import annotations

from openturk.domain.questionform.model import QuestionForm
from openturk.domain.questionform.reader import parse
from openturk.web.questionform.render import render
from openturk.web.questionform.validate import UploadedFile, validate

__all__ = ["QuestionForm", "UploadedFile", "parse", "render", "validate"]
