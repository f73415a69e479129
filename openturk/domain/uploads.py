"""FileUploadAnswer uploads: size bounds, the signed download URL, and the keys an answer names.

Pure rules: the worker upload route and GetFileUploadURL apply them to what the store holds.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from openturk import digits

# MTurk's own bounds of FileUploadAnswer (MinFileSizeInBytes, MaxFileSizeInBytes).
MTURK_MAX_FILE_BYTES = 2_000_000_000
URL_VALID_S = 60
# DECISION: the files of an assignment that ended unsubmitted (Returned, Abandoned, which includes
# an expired HIT's work in progress) are deleted a day after its deadline, the latest moment it
# could have been submitted: nobody can reach them any more (GetFileUploadURL wants a submitted
# answer), and a day leaves a clock correction or an investigation time to look.
UNSUBMITTED_STATUSES = ("Returned", "Abandoned")
UNSUBMITTED_GRACE_MS = 24 * 3600 * 1000


def size_problem(size: int, minimum: int, maximum: int) -> str | None:
    """Why a file of ``size`` bytes cannot answer a question bounded by ``minimum``..``maximum``."""
    if size < minimum:
        return f"The file is {size} bytes; the question requires at least {minimum} bytes."
    if size > maximum:
        return f"The file is {size} bytes; the question allows at most {maximum} bytes."
    return None


def signature(secret: bytes, file_key: str, expires: int) -> str:
    """HMAC-SHA256 over the key and expiry (epoch seconds), hex."""
    return hmac.new(secret, f"{file_key}\n{expires}".encode(), hashlib.sha256).hexdigest()


def signed_path(secret: bytes, file_key: str, expires: int) -> str:
    return f"/files/{quote(file_key, safe='')}?Expires={expires}&Signature={signature(secret, file_key, expires)}"


def signature_valid(secret: bytes, file_key: str, expires: Any, presented: Any, now_s: float) -> bool:
    """The presented signature is this server's for ``file_key`` and ``expires`` has not passed;
    compared in constant time."""
    expires_s = digits.non_negative(expires, max_digits=12) if isinstance(expires, str) else None
    if expires_s is None or not isinstance(presented, str):
        return False
    expected = signature(secret, file_key, expires_s)
    if not hmac.compare_digest(expected.encode(), presented.encode("utf-8", "replace")):
        return False
    return int(expires) >= now_s


def referenced_keys(fields: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    """(QuestionIdentifier, UploadedFileKey) of every answer that names an upload."""
    return [(identifier, value["UploadedFileKey"]) for identifier, value in fields if _names_upload(value)]


def _names_upload(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("UploadedFileKey"), str)


_NS = "{http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd}"


def answered_key(document: str | None, question_identifier: str) -> str | None:
    """The UploadedFileKey a QuestionFormAnswers document gives for ``question_identifier``."""
    if not document:
        return None
    try:
        root = SafeET.fromstring(document)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        return None
    for answer in root.findall(f"{_NS}Answer"):
        if (answer.findtext(f"{_NS}QuestionIdentifier") or "") == question_identifier:
            key = answer.findtext(f"{_NS}UploadedFileKey")
            if isinstance(key, str) and key:
                return key
    return None
