"""The render model of a QuestionForm: what the page shows and what each answer may be.

Built by ``reader.parse``; immutable, so a parsed form can be shared between requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from markupsafe import Markup

from openturk.domain.questionform import jsregex


@dataclass(frozen=True)
class Title:
    text: str
    kind: Literal["Title"] = "Title"


@dataclass(frozen=True)
class Text:
    text: str
    kind: Literal["Text"] = "Text"


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]
    kind: Literal["List"] = "List"


@dataclass(frozen=True)
class Binary:
    """Binary and EmbeddedBinary: ``media`` is image, audio, video or anything else (a link).
    ``url`` is None when the DataURL is not http(s): the alt text is shown instead."""

    media: str
    mime_type: str
    url: str | None
    alt: str
    width: int | None = None
    height: int | None = None
    kind: Literal["Binary"] = "Binary"


@dataclass(frozen=True)
class Unsupported:
    """Application (JavaApplet, Flash): no browser runs these any more; the worker is told so."""

    what: str
    kind: Literal["Unsupported"] = "Unsupported"


@dataclass(frozen=True)
class Formatted:
    html: Markup  # already through formatted.sanitize
    kind: Literal["FormattedContent"] = "FormattedContent"


Content = Title | Text | Items | Binary | Unsupported | Formatted


@dataclass(frozen=True)
class AnswerRegex:
    """AnswerFormatRegex: ``pattern`` must be found in the answer (JavaScript's ``RegExp.test``)."""

    pattern: str
    flags: str
    error_text: str | None

    def matches(self, value: str) -> bool:
        return jsregex.test(self.pattern, self.flags, value)

    @property
    def html_pattern(self) -> str | None:
        """The pattern for an HTML ``pattern`` attribute (anchored whole value), or None when the
        browser could not read it the same way; the server and questionform.js check it anyway."""
        if self.flags or not jsregex.reads_alike_in_html(self.pattern):
            return None
        return f"[\\s\\S]*(?:{self.pattern})[\\s\\S]*"


@dataclass(frozen=True)
class FreeText:
    default_text: str = ""
    lines: int = 1
    numeric: bool = False
    min_value: int | None = None
    max_value: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    regexes: tuple[AnswerRegex, ...] = ()
    kind: Literal["free"] = "free"

    @property
    def hint(self) -> str:
        """What the constraints ask for, in words, shown next to the control."""
        said: list[str] = []
        if self.numeric:
            said.append(_range("A number", self.min_value, self.max_value, ""))
        if self.min_length is not None or self.max_length is not None:
            said.append(_range("Length", self.min_length, self.max_length, " characters"))
        said.extend(regex.error_text or "In the format the question asks for" for regex in self.regexes)
        return " ".join(text if text.endswith((".", "!", "?")) else text + "." for text in said)

    @property
    def html_pattern(self) -> str | None:
        return self.regexes[0].html_pattern if len(self.regexes) == 1 and self.lines == 1 else None

    @property
    def browser_regexes(self) -> list[dict[str, str]]:
        """For questionform.js, which checks every regex with its flags and errorText."""
        return [{"pattern": r.pattern, "flags": r.flags, "error": r.error_text or ""} for r in self.regexes]


@dataclass(frozen=True)
class Choice:
    identifier: str
    content: Content
    label: str  # plain text, for <option> elements that cannot hold markup


@dataclass(frozen=True)
class Selection:
    choices: tuple[Choice, ...]
    min_count: int
    max_count: int
    style: str  # radiobutton | checkbox | list | dropdown | combobox | multichooser
    other: FreeText | None
    other_value: str  # the choice value meaning "OtherSelection"; never a SelectionIdentifier
    other_field: str  # the form field that carries OtherSelectionText
    kind: Literal["selection"] = "selection"

    @property
    def multiple(self) -> bool:
        return self.max_count > 1

    @property
    def hint(self) -> str:
        if self.min_count == self.max_count:
            return f"Choose exactly {self.min_count}."
        if self.min_count == 0:
            return f"Choose up to {self.max_count}."
        return f"Choose from {self.min_count} to {self.max_count}."


@dataclass(frozen=True)
class FileUpload:
    min_bytes: int
    max_bytes: int
    kind: Literal["upload"] = "upload"

    @property
    def hint(self) -> str:
        return _range("File size", self.min_bytes or None, self.max_bytes, " bytes") + "."


Answer = FreeText | Selection | FileUpload


@dataclass(frozen=True)
class Question:
    identifier: str
    number: int  # 1-based, for ids and for a name when DisplayName is absent
    display_name: str | None
    required: bool
    content: tuple[Content, ...]
    answer: Answer
    kind: Literal["Question"] = "Question"

    @property
    def dom_id(self) -> str:
        return f"qf-{self.number}"

    @property
    def name(self) -> str:
        return self.display_name or f"Question {self.number}"


@dataclass(frozen=True)
class Overview:
    content: tuple[Content, ...]
    kind: Literal["Overview"] = "Overview"


@dataclass(frozen=True)
class QuestionForm:
    parts: tuple[Overview | Question, ...]

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(part for part in self.parts if isinstance(part, Question))


def _range(what: str, low: int | None, high: int | None, unit: str) -> str:
    if low is not None and high is not None:
        return f"{what} from {low} to {high}{unit}"
    if low is not None:
        return f"{what} of at least {low}{unit}"
    if high is not None:
        return f"{what} of at most {high}{unit}"
    return what
