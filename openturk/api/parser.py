"""Parse and validate a JSON request body against an operation's input shape.

Walks botocore's shapes: required members, types, min/max lengths and values, enums, patterns and
timestamps. Every failure is a ``RequestError`` whose message names the offending field by its
path (``QualificationRequirements[0].Comparator``). Unknown members are ignored, as AWS services do.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from openturk.errors import InvalidParameterValue, MissingParameter, ParameterOutOfRange, ProtocolError, RequestError


def parse_body(raw: bytes) -> dict[str, Any]:
    """Decode the JSON document of a request; an empty body is an empty structure."""
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        if "integer string conversion" in str(exc):  # Python's own limit, not a JSON error
            raise ProtocolError(
                "SerializationException", "The request body holds a number of over 4,300 digits."
            ) from exc
        raise ProtocolError("SerializationException", f"The request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ProtocolError("SerializationException", "The request body nests too deeply.") from exc
    if not isinstance(document, dict):
        raise ProtocolError("SerializationException", "The request body must be a JSON object.")
    return document


def parse_input(
    operation: OperationModel, document: dict[str, Any], invalid_messages: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Validate ``document`` against the operation's input shape and return typed parameters.

    Timestamps become epoch milliseconds (int), openturk's one internal time format; everything
    else keeps its JSON type. ``invalid_messages``: top-level members whose operation documents one
    message for any missing or invalid value (DeleteWorkerBlock's "WorkerId is invalid."), given as
    an ``InvalidParameterValue`` in place of the member's own.
    """
    shape = operation.input_shape
    if shape is None:
        return {}
    for member, message in (invalid_messages or {}).items():
        if document.get(member) is None:
            raise InvalidParameterValue(message)
        try:
            _value(shape.members[member], document[member], member)
        except RequestError:
            raise InvalidParameterValue(message) from None
    return _structure(shape, document, "")


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    # The model's patterns end in ``$``, which in Python also matches before a final newline.
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)


def _name(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _structure(shape: StructureShape, value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParameterValue(f"Value for {path or 'the request'} must be a structure.")
    result: dict[str, Any] = {}
    for member in shape.required_members:
        if value.get(member) is None:
            raise MissingParameter(f"The request must contain the parameter {_name(path, member)}.")
    for member, member_shape in shape.members.items():
        if member in value and value[member] is not None:
            result[member] = _value(member_shape, value[member], _name(path, member))
    return result


def _value(shape: Shape, value: Any, path: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return _structure(shape, value, path)
    if kind == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            raise InvalidParameterValue(f"Value for {path} must be a list.")
        _check_length(shape, len(value), path, "items")
        return [_value(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        assert isinstance(shape, MapShape)
        if not isinstance(value, dict):
            raise InvalidParameterValue(f"Value for {path} must be a map.")
        return {_value(shape.key, k, f"{path} key"): _value(shape.value, v, f"{path}[{k}]") for k, v in value.items()}
    if kind == "string":
        return _string(shape, value, path)
    if kind in ("integer", "long"):
        return _integer(shape, value, path)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidParameterValue(f"Value for {path} must be a boolean.")
        return value
    if kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidParameterValue(f"Value for {path} must be a number.")
        return float(value)
    if kind == "timestamp":
        return _timestamp(value, path)
    raise InvalidParameterValue(f"Value for {path} has an unsupported type {kind}.")


def _check_length(shape: Shape, length: int, path: str, unit: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and length < low:
        raise ParameterOutOfRange(f"Value for {path} must have at least {low} {unit}.")
    if high is not None and length > high:
        raise ParameterOutOfRange(f"Value for {path} must have at most {high} {unit}.")


def _string(shape: Shape, value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise InvalidParameterValue(f"Value for {path} must be a string.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # JSON can carry lone surrogates; no store can
        raise InvalidParameterValue(f"Value for {path} is not valid Unicode text.") from exc
    if "\x00" in value:  # PostgreSQL's text cannot hold it (a 500 there); refused on every store alike
        raise InvalidParameterValue(f"Value for {path} must not contain the NUL character (U+0000).")
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        raise InvalidParameterValue(f"Value '{value[:64]}' for {path} must be one of: {', '.join(enum)}.")
    _check_length(shape, len(value), path, "characters")
    pattern = shape.metadata.get("pattern")
    if pattern and not _pattern(pattern).search(value):
        raise InvalidParameterValue(f"Value '{value[:64]}' for {path} does not match the pattern {pattern}.")
    return value


def _integer(shape: Shape, value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameterValue(f"Value for {path} must be an integer.")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidParameterValue(f"Value for {path} must be an integer.")
        value = int(value)
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    # A number of thousands of digits is named by its first ones, not echoed whole.
    shown = str(value) if -(10**20) < value < 10**20 else f"{str(value)[:21]}… ({len(str(abs(value)))} digits)"
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ParameterOutOfRange(f"Value {shown} for {path} is out of range; it must be {bounds}.")
    # The model's integer is 32 bits, its long 64 (as the services behind the SDKs read them).
    limit = 2**31 if shape.type_name == "integer" else 2**63
    if not -limit <= value < limit:
        raise ParameterOutOfRange(
            f"Value {shown} for {path} is out of range; it must be between {-limit} and {limit - 1}."
        )
    return int(value)


def _timestamp(value: Any, path: str) -> int:
    """Accept what SDKs send: epoch seconds (int or float); also ISO 8601 strings."""
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, (int, float)):
            if not math.isfinite(value) or not 0 <= value < 1e11:
                raise ValueError
            return round(value * 1000)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            return int(parsed.timestamp() * 1000)
    except (TypeError, ValueError, OverflowError, OSError):
        pass
    raise InvalidParameterValue(f"Value for {path} must be a timestamp (epoch seconds).")
