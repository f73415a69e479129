"""Serialise an operation's result by walking its output shape.

Timestamps, held internally as epoch milliseconds (int), go out as epoch seconds (botocore's JSON
protocol); members whose value is None are left out; members the shape does not know are dropped,
so a handler cannot leak internal fields.

The walk is planned once per shape (``_writer``): every response of an operation has the same
shape, and deciding per field and per call what each member needs was a tenth of a call's CPU.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

# Turns a handler's value into its JSON form; None stands for "as it is" (strings, numbers, booleans).
Writer = Callable[[Any], Any] | None
_ENCODER = json.JSONEncoder(separators=(",", ":"))  # json.dumps would build one per call for these separators


def serialize_output(operation: OperationModel, result: dict[str, Any]) -> bytes:
    shape = operation.output_shape
    write = _writer(shape) if shape is not None else None
    document = write(result) if write is not None else {}
    return _ENCODER.encode(document).encode()


def _timestamp(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    return value / 1000 if isinstance(value, int) else value


@cache
def _writer(shape: Shape) -> Writer:
    # The MTurk model has no recursive shapes, so planning a shape's members eagerly terminates.
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        members = [(name, _writer(member)) for name, member in shape.members.items()]

        def structure(value: dict[str, Any]) -> dict[str, Any]:
            document = {}
            for name, write in members:
                item = value.get(name)
                if item is not None:
                    document[name] = item if write is None else write(item)
            return document

        return structure
    if kind == "list":
        assert isinstance(shape, ListShape)
        item_writer = _writer(shape.member)
        if item_writer is None:
            return list
        return lambda value: [item_writer(item) for item in value]
    if kind == "map":
        assert isinstance(shape, MapShape)
        value_writer = _writer(shape.value)
        if value_writer is None:
            return dict
        return lambda value: {key: value_writer(item) for key, item in value.items()}
    if kind == "timestamp":
        return _timestamp
    return None
