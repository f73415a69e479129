"""The worker-facing recipes: psiTurk's ``thanks-mturksubmit.html`` and Dallinger's
``exit_recruiter_mturk.html`` post to MTurk's hard-coded externalSubmit; with the one line the
README tells a lab to override, the page, rendered from the framework's own installed template,
posts to openturk's ``/mturk/externalSubmit`` and the assignment is submitted."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import jinja2
import pytest

from openturk.testing import ServerProcess, Worker
from tests.conftest import EXTERNAL_QUESTION, hit_params
from tests.support import frameworks

pytestmark = [pytest.mark.frameworks, pytest.mark.timeout(1500)]

# The lines as the frameworks ship them, and as the README says to write them (OPENTURK = openturk's URL).
PSITURK_SHIPPED = (
    "    {% if using_sandbox %}\n"
    '      <form style="width: auto;" id="mturk_form" action="https://workersandbox.mturk.com/mturk/externalSubmit" '
    'method="post">\n'
    "    {% else %}\n"
    '      <form style="width: auto;" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit" '
    'method="post">\n'
    "    {% endif %}\n"
)
PSITURK_OVERRIDE = (
    '      <form style="width: auto;" id="mturk_form" action="OPENTURK/mturk/externalSubmit" method="post">\n'
)
DALLINGER_SHIPPED = 'action="{{ external_submit_url }}"'
DALLINGER_OVERRIDE = 'action="OPENTURK/mturk/externalSubmit"'


class Form(HTMLParser):
    """The first form's action and its inputs, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = found.get("action")
        elif tag == "input" and found.get("name"):
            self.fields.append((str(found["name"]), found.get("value") or ""))


def _render(template_file: Path, shipped: str, override: str, server: ServerProcess, **context: Any) -> Form:
    text = template_file.read_text()
    assert shipped in text, f"{template_file} no longer has the line the README tells labs to override"
    recipe = text.replace(shipped, override.replace("OPENTURK", server.base_url))
    # Only the form matters: the pages' layouts are replaced by an empty one.
    loader = jinja2.DictLoader({"page.html": recipe, "layout.html": "{% block body %}{% endblock %}"})
    loader.mapping["layouts/layout.html"] = loader.mapping["layout.html"]
    form = Form()
    form.feed(jinja2.Environment(loader=loader).get_template("page.html").render(**context))
    return form


@pytest.mark.parametrize("framework", ["psiturk", "dallinger"])
def test_the_framework_page_with_its_one_line_override_submits_to_openturk(
    server: ServerProcess, mturk: Any, framework: str
) -> None:
    venv = frameworks.venv_or_fail(framework)
    hit = mturk.create_hit(**hit_params(Question=EXTERNAL_QUESTION))["HIT"]
    worker = Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper())
    assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
    ids = {"assignmentid": assignment_id, "hitid": hit["HITId"], "workerid": worker.worker_id}
    if framework == "psiturk":
        [template] = venv.glob("lib/python*/site-packages/psiturk/example/templates/thanks-mturksubmit.html")
        form = _render(template, PSITURK_SHIPPED, PSITURK_OVERRIDE, server, using_sandbox=True, **ids)
    else:
        [template] = venv.glob("lib/python*/site-packages/dallinger/frontend/templates/exit_recruiter_mturk.html")
        form = _render(template, DALLINGER_SHIPPED, DALLINGER_OVERRIDE, server, **ids)

    assert form.action == f"{server.base_url}/mturk/externalSubmit"
    response = httpx.post(form.action, data=dict(form.fields), timeout=30)
    assert response.status_code == 200, response.text
    assignment = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert (assignment["AssignmentStatus"], assignment["WorkerId"]) == ("Submitted", worker.worker_id)
