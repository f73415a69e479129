"""Serialise an operation's result by walking its output shape.

Timestamps, held internally as epoch milliseconds (int), go out as epoch seconds (botocore's JSON
protocol); members whose value is None are
left out; members the shape does not know are dropped, so a handler cannot leak internal fields.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape


def serialize_output(operation: OperationModel, result: dict[str, Any]) -> bytes:
    shape = operation.output_shape
    document = _structure(shape, result) if shape is not None else {}
    return json.dumps(document, separators=(",", ":")).encode()


def _structure(shape: StructureShape, value: dict[str, Any]) -> dict[str, Any]:
    return {name: _value(member, value[name]) for name, member in shape.members.items() if value.get(name) is not None}


def _value(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return _structure(shape, value)
    if kind == "list":
        assert isinstance(shape, ListShape)
        return [_value(shape.member, item) for item in value]
    if kind == "map":
        assert isinstance(shape, MapShape)
        return {k: _value(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, datetime):
            return value.timestamp()
        return value / 1000 if isinstance(value, int) else value
    return value
