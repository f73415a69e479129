"""What every HTML form post may hold, checked where the form is read (site pages, the task origin,
MTurk's externalSubmit)."""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile

MAX_FORM_FIELDS = 2000
MAX_FORM_FILES = 50


def field_with_nul(form: FormData) -> str | None:
    """The name of the first field whose name, value or file name holds the NUL character, else None.

    PostgreSQL's text cannot hold NUL: such a value reaching a query would be a 500 there (and only
    there), so it is refused on every store alike before anything reads it."""
    for name, value in form.multi_items():
        text = value.filename or "" if isinstance(value, UploadFile) else value
        if "\x00" in name or "\x00" in text:
            return name.replace("\x00", "\\0")
    return None
