"""docs/operations.md lists every operation of the model once, with the status the code has."""

from __future__ import annotations

import re
from pathlib import Path

from openturk.api import spec
from openturk.requester.operations import implemented

DOC = Path(__file__).resolve().parents[3] / "docs" / "operations.md"
ROW = re.compile(r"^\| (?P<operation>[A-Za-z]+) \| (?P<status>implemented|not yet) \|")


def test_every_operation_is_listed_once_with_its_status() -> None:
    rows = [m for line in DOC.read_text().splitlines() if (m := ROW.match(line))]
    listed = [m["operation"] for m in rows]
    assert sorted(listed) == sorted(spec.service_model().operation_names)
    done = set(implemented())
    assert {m["operation"]: m["status"] == "implemented" for m in rows} == {op: op in done for op in listed}
