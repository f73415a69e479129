"""HIT layouts: a requester's HTML template with ``${name}`` placeholders, rendered into an HTMLQuestion.

On MTurk a layout was a project template made on the Requester website; CreateHIT named it with
HITLayoutId and filled its placeholders from HITLayoutParameters. openturk stores layouts itself
(``openturk layouts create``). As on MTurk, every placeholder must be given a value, every value
given must be used, and values go in as they are, unescaped ("HITLayoutParameter values with
reserved characters or invalid HTML markup may result in an invalid HTMLQuestion document"): the
rendered document is then checked like any other Question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from openturk.domain.questions import HTML_QUESTION_NAMESPACE, MAX_QUESTION_BYTES, parse_question
from openturk.errors import InvalidParameterValue, XMLParseError

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")
# A whole page: its doctype, after any blank space and comments (an editor's header, a licence). A
# comment ends at its first "-->" (no ".*?" that could stretch to a later one): linear time, whatever
# a requester's parameters put before the doctype.
_DOCTYPE = re.compile(r"\ufeff?(?:\s|<!--(?:[^-]|-(?!->))*-->)*<!doctype", re.IGNORECASE)


@dataclass(frozen=True)
class HITLayout:
    hit_layout_id: str
    customer_id: str
    name: str
    template: str
    frame_height: int

    @property
    def parameter_names(self) -> list[str]:
        return placeholders(self.template)


def placeholders(template: str) -> list[str]:
    """The placeholder names a template uses, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(template)))


def check_template(template: str, frame_height: int = 0) -> None:
    """Raise ``ValueError`` for a template no HIT could ever be made from.

    The test is making one: every placeholder filled with its own name must give a valid Question.
    """
    if not template.strip():
        raise ValueError("The layout template is empty.")
    if len(template.encode("utf-8")) > MAX_QUESTION_BYTES:
        raise ValueError(f"The layout template must be at most {MAX_QUESTION_BYTES} bytes.")
    trial = HITLayout("trial", "", "", template, frame_height)
    try:
        parse_question(render(trial, [{"Name": name, "Value": name} for name in trial.parameter_names]))
    except XMLParseError as error:
        raise ValueError(f"A HIT made from this template would be refused: {error.message}") from error


def render(layout: HITLayout, parameters: Sequence[Mapping[str, str]]) -> str:
    """The HTMLQuestion document for ``layout`` with ``parameters`` (HITLayoutParameters) filled in."""
    values: dict[str, str] = {}
    for parameter in parameters:
        name = parameter["Name"]
        if name in values:
            raise InvalidParameterValue(f"HITLayoutParameters gives a value for {name!r} more than once.")
        values[name] = parameter["Value"]
    used = layout.parameter_names
    unused = [name for name in values if name not in used]
    if unused:
        raise InvalidParameterValue(
            f"HITLayoutParameter {unused[0]!r} is not used in HITLayout {layout.hit_layout_id}; "
            f"its parameters are: {', '.join(used) or 'none'}."
        )
    missing = [name for name in used if name not in values]
    if missing:
        raise InvalidParameterValue(
            f"HITLayout {layout.hit_layout_id} needs a value for {', '.join(missing)} in HITLayoutParameters."
        )
    html = PLACEHOLDER.sub(lambda match: values[match.group(1)], layout.template)
    page = _DOCTYPE.match(html)
    if page is not None:
        # HTMLContent must start with its doctype: what came before (a byte order mark, comments) goes.
        html = html[page.end() - len("<!doctype") :]
    else:
        # Project templates were page fragments (crowd-html elements and a form); MTurk served them
        # inside its own page. An HTMLQuestion needs the whole document.
        html = f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{html}</body></html>'
    # "]]>" would end the CDATA section early: split it across two sections.
    content = html.replace("]]>", "]]]]><![CDATA[>")
    return (
        f'<HTMLQuestion xmlns="{HTML_QUESTION_NAMESPACE}"><HTMLContent><![CDATA[{content}]]></HTMLContent>'
        f"<FrameHeight>{layout.frame_height}</FrameHeight></HTMLQuestion>"
    )
