"""Render a QuestionForm render model into the site's HTML (templates/questionform.html).

Every text from the requester is escaped by Jinja's autoescape; only FormattedContent, already
through the allow-list sanitiser, is placed as markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from openturk.domain.questionform.model import QuestionForm

TEMPLATE = "questionform.html"
SCRIPT = "questionform.js"  # under openturk/web/static/: load it with <script src=...> (CSP script-src 'self')


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja environment of the web package's templates, autoescaping everything."""
    return Environment(
        loader=PackageLoader("openturk.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render(
    form: QuestionForm,
    action: str,
    values: Mapping[str, Sequence[str]] | None = None,
    errors: Mapping[str, str] | None = None,
    hidden: Mapping[str, str] | None = None,
    submit_label: str = "Submit",
) -> Markup:
    """The ``<form>`` for ``form`` posting to ``action``. ``values`` (as submitted) and ``errors``
    (by QuestionIdentifier, from ``validate``) show a refused submission again; without ``values``
    each FreeTextAnswer shows its DefaultText. ``hidden`` adds fields such as a CSRF token."""
    html = (
        environment()
        .get_template(TEMPLATE)
        .render(
            form=form,
            action=action,
            values=values,
            errors=dict(errors or {}),
            hidden=dict(hidden or {}),
            submit_label=submit_label,
        )
    )
    return Markup(html)  # the template autoescapes every value
