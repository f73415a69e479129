"""The operation table: every model operation has exactly one registered handler, checked at start-up."""

from __future__ import annotations

import pytest

from openturk.api import spec
from openturk.requester import operations, registry


def test_every_model_operation_has_its_registered_handler() -> None:
    table = operations.handlers()
    assert list(table) == list(spec.service_model().operation_names)
    assert len(table) == 39
    for name, handler in table.items():
        assert registry.REGISTERED[name] is handler


def test_a_table_that_does_not_match_the_model_is_refused() -> None:
    model = ["CreateHIT", "GetHIT"]
    handler = operations.handlers()["GetHIT"]
    with pytest.raises(RuntimeError, match=r"without a handler \['CreateHIT'\]"):
        operations.check({"GetHIT": handler}, model)
    with pytest.raises(RuntimeError, match=r"not in the model \['MakeCoffee'\]"):
        operations.check({"CreateHIT": handler, "GetHIT": handler, "MakeCoffee": handler}, model)


def test_registering_an_operation_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "REGISTERED", {})

    @registry.operation("GetHIT")
    def first(ctx: object, params: dict[str, object]) -> dict[str, object]:
        return {}

    with pytest.raises(RuntimeError, match="registered twice"):

        @registry.operation("GetHIT")
        def second(ctx: object, params: dict[str, object]) -> dict[str, object]:
            return {}
