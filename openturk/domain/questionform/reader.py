"""Read a QuestionForm document into the render model (``model.QuestionForm``).

``read`` is called by ``openturk.domain.questions.parse_question`` on the document it has parsed
(size, DTD/entity refusal and namespace checked there): it reads all of MTurk's 2005-10-01 /
2017-11-06 schema (the latter has no FileUploadAnswer or Application) and raises ``XMLParseError``
naming what it cannot render, so CreateHIT and CreateQualificationType refuse a form the worker site
could not show, or one its schema does not allow.
Defaults are MTurk's: IsRequired false, MinSelectionCount and MaxSelectionCount 1, StyleSuggestion
radiobutton for one selection and checkbox for several, NumberOfLinesSuggestion 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

from openturk import digits
from openturk.domain.questionform import formatted, jsregex
from openturk.domain.questionform.model import (
    Answer,
    AnswerRegex,
    Binary,
    Choice,
    Content,
    FileUpload,
    Formatted,
    FreeText,
    Items,
    Overview,
    Question,
    QuestionForm,
    Selection,
    Text,
    Title,
    Unsupported,
)
from openturk.errors import XMLParseError

STYLES = ("radiobutton", "checkbox", "list", "dropdown", "combobox", "multichooser")
_MEDIA = ("image", "audio", "video")
_ANSWERS = ("FreeTextAnswer", "SelectionAnswer", "FileUploadAnswer")
MAX_FILE_BYTES = 2_000_000_000  # MTurk's largest FileUploadAnswer


def parse(document: str) -> QuestionForm:
    """The render model of a QuestionForm document; ``XMLParseError`` when it is not one.
    (``parse_question`` remembers recent documents, so a page showing a HIT reads it once.)"""
    from openturk.domain import questions  # questions imports this module to read forms

    form = questions.parse_question(document).form
    if form is None:
        raise XMLParseError("The document is not a QuestionForm.")
    return form


def read(root: Element) -> QuestionForm:
    """The render model of a parsed QuestionForm element whose namespace has been checked."""
    reader = _Reader(root.tag.partition("}")[0] + "}")
    elements = root.findall(reader.ns + "Question")
    if not elements and root.find(reader.ns + "Overview") is None:
        raise XMLParseError("QuestionForm must contain at least one Question or Overview.")
    identifiers: set[str] = set()
    for element in elements:
        identifier = reader.text(element, "QuestionIdentifier")
        if not identifier:
            raise XMLParseError("Question requires a non-empty QuestionIdentifier element.")
        if identifier in identifiers:
            raise XMLParseError(f"QuestionIdentifier {identifier!r} appears more than once.")
        identifiers.add(identifier)
    parts: list[Overview | Question] = []
    for element in root:
        name = reader.local(element)
        if name == "Overview":
            parts.append(Overview(reader.content(element)))
        elif name == "Question":
            parts.append(reader.question(element, sum(isinstance(p, Question) for p in parts) + 1, identifiers))
        else:
            raise XMLParseError(f"QuestionForm cannot contain {name}.")
    return QuestionForm(tuple(parts))


def _int(text: str | None, what: str, low: int = 0, high: int = 2**31 - 1) -> int | None:
    if text is None or not text.strip():
        return None
    value = digits.xs_int(text)
    if value is None:
        raise XMLParseError(f"{what} must be a whole number, not {text.strip()[:32]!r}.")
    if not low <= value <= high:
        raise XMLParseError(f"{what} must be between {low} and {high}, not {value}.")
    return value


def _web_url(text: str) -> str | None:
    url = text.strip()
    return url if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname else None


def _unique(base: str, taken: set[str]) -> str:
    """``base``, lengthened until no identifier in ``taken`` equals it."""
    candidate = base
    while candidate in taken:
        candidate += "_"
    return candidate


@dataclass(frozen=True)
class _Reader:
    ns: str

    def refuse_in_2017(self, element: str) -> None:
        """The 2017-11-06 schema dropped FileUploadAnswer and Application (Java applets, Flash); the
        2005-10-01 one still has them."""
        if "/2017-11-06/" in self.ns:
            raise XMLParseError(
                f"The 2017-11-06 QuestionForm schema has no {element} element; use the 2005-10-01 schema for it."
            )

    def local(self, element: Element) -> str:
        return element.tag.rpartition("}")[2]

    def text(self, element: Element, name: str) -> str:
        return (element.findtext(self.ns + name) or "").strip()

    def content(self, parent: Element) -> tuple[Content, ...]:
        return tuple(self.content_item(child) for child in parent)

    def content_item(self, element: Element) -> Content:
        name = self.local(element)
        if name == "Title":
            return Title((element.text or "").strip())
        if name == "Text":
            return Text((element.text or "").strip())
        if name == "List":
            return Items(tuple((item.text or "").strip() for item in element.findall(self.ns + "ListItem")))
        if name in ("Binary", "EmbeddedBinary"):
            return self.binary(element, "MimeType" if name == "Binary" else "EmbeddedMimeType")
        if name == "Application":
            self.refuse_in_2017(name)
            return Unsupported("a Java applet" if element.find(self.ns + "JavaApplet") is not None else "a Flash movie")
        if name == "FormattedContent":
            return Formatted(formatted.sanitize(element.text or ""))
        raise XMLParseError(f"Content cannot contain {name}.")

    def binary(self, element: Element, mime_element: str) -> Binary:
        mime = element.find(self.ns + mime_element)
        media = self.text(mime, "Type").lower() if mime is not None else ""
        subtype = self.text(mime, "SubType").lower() if mime is not None else ""
        if not media:
            raise XMLParseError(f"{self.local(element)} requires {mime_element}/Type.")
        return Binary(
            media=media if media in _MEDIA else "other",
            mime_type=f"{media}/{subtype}" if subtype else media,
            url=_web_url(self.text(element, "DataURL")),
            alt=self.text(element, "AltText"),
            width=_int(element.findtext(self.ns + "Width"), "Width"),
            height=_int(element.findtext(self.ns + "Height"), "Height"),
        )

    def question(self, element: Element, number: int, identifiers: set[str]) -> Question:
        identifier = self.text(element, "QuestionIdentifier")
        required = self.text(element, "IsRequired").lower()
        if required not in ("", "true", "false"):
            raise XMLParseError(f"Question {identifier!r}: IsRequired must be true or false.")
        content = element.find(self.ns + "QuestionContent")
        if content is None:
            raise XMLParseError(f"Question {identifier!r} requires a QuestionContent element.")
        spec = element.find(self.ns + "AnswerSpecification")
        if spec is None or len(spec) != 1:
            raise XMLParseError(f"Question {identifier!r} requires one AnswerSpecification.")
        answer = spec[0]
        kind = self.local(answer)
        parsed: Answer
        if kind == "FreeTextAnswer":
            parsed = self.free_text(answer, identifier)
        elif kind == "SelectionAnswer":
            parsed = self.selection(answer, identifier, identifiers)
        elif kind == "FileUploadAnswer":
            self.refuse_in_2017(kind)
            parsed = self.file_upload(answer, identifier)
        else:
            raise XMLParseError(f"Question {identifier!r} has an unknown answer specification {kind!r}.")
        # MTurk: "If you specify the minLength attribute, it is the same as if IsRequired is true."
        needs_text = isinstance(parsed, FreeText) and bool(parsed.min_length)
        return Question(
            identifier=identifier,
            number=number,
            display_name=self.text(element, "DisplayName") or None,
            required=required == "true" or needs_text,
            content=self.content(content),
            answer=parsed,
        )

    def file_upload(self, answer: Element, identifier: str) -> FileUpload:
        where = f"Question {identifier!r}"
        low = _int(answer.findtext(self.ns + "MinFileSizeInBytes"), f"{where}: MinFileSizeInBytes", 0, MAX_FILE_BYTES)
        high = _int(answer.findtext(self.ns + "MaxFileSizeInBytes"), f"{where}: MaxFileSizeInBytes", 0, MAX_FILE_BYTES)
        upload = FileUpload(low or 0, MAX_FILE_BYTES if high is None else high)
        if upload.min_bytes > upload.max_bytes:
            raise XMLParseError(f"{where}: MinFileSizeInBytes is larger than MaxFileSizeInBytes.")
        return upload

    def free_text(self, answer: Element, identifier: str) -> FreeText:
        where = f"Question {identifier!r}"
        constraints = answer.find(self.ns + "Constraints")
        numeric = length = None
        regexes: list[AnswerRegex] = []
        if constraints is not None:
            numeric = constraints.find(self.ns + "IsNumeric")
            length = constraints.find(self.ns + "Length")
            for found in constraints.findall(self.ns + "AnswerFormatRegex"):
                regexes.append(self.regex(found, where))
        lines = _int(answer.findtext(self.ns + "NumberOfLinesSuggestion"), f"{where}: NumberOfLinesSuggestion", 1)
        free = FreeText(
            default_text=answer.findtext(self.ns + "DefaultText") or "",
            lines=lines or 1,
            numeric=numeric is not None,
            min_value=_int(numeric.get("minValue"), f"{where}: minValue", -(2**31)) if numeric is not None else None,
            max_value=_int(numeric.get("maxValue"), f"{where}: maxValue", -(2**31)) if numeric is not None else None,
            min_length=_int(length.get("minLength"), f"{where}: minLength") if length is not None else None,
            max_length=_int(length.get("maxLength"), f"{where}: maxLength") if length is not None else None,
            regexes=tuple(regexes),
        )
        if None not in (free.min_value, free.max_value) and free.min_value > free.max_value:  # type: ignore[operator]
            raise XMLParseError(f"{where}: minValue is larger than maxValue.")
        if None not in (free.min_length, free.max_length) and free.min_length > free.max_length:  # type: ignore[operator]
            raise XMLParseError(f"{where}: minLength is larger than maxLength.")
        return free

    def regex(self, element: Element, where: str) -> AnswerRegex:
        pattern = element.get("regex")
        flags = element.get("flags") or ""
        if pattern is None:
            raise XMLParseError(f"{where}: AnswerFormatRegex requires a regex attribute.")
        try:
            jsregex.compile_regex(pattern, flags)
        except (re.error, ValueError) as exc:
            raise XMLParseError(f"{where}: AnswerFormatRegex {pattern[:64]!r} cannot be used: {exc}.") from exc
        return AnswerRegex(pattern, flags, element.get("errorText") or None)

    def selection(self, answer: Element, identifier: str, identifiers: set[str]) -> Selection:
        where = f"Question {identifier!r}"
        selections = answer.find(self.ns + "Selections")
        if selections is None:
            raise XMLParseError(f"{where}: SelectionAnswer requires Selections.")
        choices: list[Choice] = []
        for element in selections.findall(self.ns + "Selection"):
            choice_id = self.text(element, "SelectionIdentifier")
            if not choice_id or any(choice.identifier == choice_id for choice in choices):
                raise XMLParseError(f"{where}: every Selection needs its own SelectionIdentifier.")
            shown = [child for child in element if self.local(child) != "SelectionIdentifier"]
            if len(shown) != 1:
                raise XMLParseError(f"{where}: Selection {choice_id!r} needs one Text, FormattedContent or Binary.")
            content = self.content_item(shown[0])
            choices.append(Choice(choice_id, content, _plain(content, choice_id)))
        other_element = selections.find(self.ns + "OtherSelection")
        other = self.free_text(other_element, identifier) if other_element is not None else None
        if not choices and other is None:
            raise XMLParseError(f"{where}: SelectionAnswer requires at least one Selection.")
        low = _int(answer.findtext(self.ns + "MinSelectionCount"), f"{where}: MinSelectionCount")
        high = _int(answer.findtext(self.ns + "MaxSelectionCount"), f"{where}: MaxSelectionCount", 1)
        low, high = 1 if low is None else low, 1 if high is None else high
        available = len(choices) + (other is not None)
        if low > high or low > available:
            raise XMLParseError(f"{where}: MinSelectionCount must be at most MaxSelectionCount and the choices.")
        style = self.text(answer, "StyleSuggestion") or ("checkbox" if high > 1 else "radiobutton")
        if style not in STYLES:
            raise XMLParseError(f"{where}: StyleSuggestion must be one of {', '.join(STYLES)}, not {style[:32]!r}.")
        # MTurk: radiobutton and dropdown "can be used if MaxSelectionCount is 1"; one pick cannot give several.
        if high > 1 and style in ("radiobutton", "dropdown"):
            style = "checkbox" if style == "radiobutton" else "multichooser"
        taken = {choice.identifier for choice in choices}
        return Selection(
            choices=tuple(choices),
            min_count=low,
            max_count=high,
            style=style,
            other=other,
            other_value=_unique("__other__", taken),
            other_field=_unique(f"{identifier}.OtherSelectionText", identifiers),
        )


def _plain(content: Content, fallback: str) -> str:
    """A selection's label as plain text, for controls that cannot hold markup."""
    if isinstance(content, Title | Text):
        return content.text
    if isinstance(content, Binary):
        return content.alt or fallback
    if isinstance(content, Formatted):
        return " ".join(formatted.text_of(content.html).split()) or fallback
    return fallback
